/**
 * One engine-only benchmark process (run by `measureEngine`): load the engine exactly as a
 * worker does, warm it up, tell the parent it is ready, then analyse the images the parent
 * hands out one at a time (decode + detect + describe + match, as a worker does per job) until
 * it says there are no more, and report. Handing them out one by one, as a queue does, keeps
 * every process busy to the end: a fixed share per process leaves a core idle while the
 * slowest process finishes, which would flatter the end-to-end system.
 *
 *   node --import tsx scripts/lib/engine-child.ts <cse546|lfw> <lfwCount> <share> <shares> <passes> <limit> [lfwDir]
 *
 * (`share`, `shares` and `passes` are kept for the warm-up split; the parent decides the work.)
 */
import { createLogger } from '../../src/log.js';
import { loadEngine } from '../../src/recognition/engine.js';
import { createGalleryIndex, recognizeFaces } from '../../src/recognition/matcher.js';
import { loadImageSet, type ImageSetName } from './bench-images.js';

const [set, lfwCount, share, shares, passes, limit, lfwDir] = process.argv.slice(2);
const all = (await loadImageSet(set as ImageSetName, { count: Number(lfwCount), lfwDir: lfwDir || undefined })).slice(0, Number(limit));
const mine = all.filter((_, i) => i % Number(shares) === Number(share));
const engine = await loadEngine({ tfBackend: 'auto', log: createLogger({ level: 'warn', name: 'engine-child' }) });
const index = createGalleryIndex([]);
const distinct = new Map(mine.map((m) => [m.buffer.toString('base64').slice(0, 200) + m.buffer.length, m.buffer]));
for (const b of [...distinct.values()].slice(0, 20)) await engine.analyze(b);
process.send!({ type: 'ready', backend: engine.backend });
await new Promise<void>((resolve) => process.once('message', () => resolve()));
/** The next image index from the parent, or -1 when the work is done. */
function next(): Promise<number> {
  return new Promise((resolve) => {
    process.once('message', (m: { index: number }) => resolve(m.index));
    process.send!({ type: 'next' });
  });
}
const perImageMs: number[] = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const work = all.length * Number(passes);
for (let i = await next(); i >= 0 && i < work; i = await next()) {
  const img = all[i % all.length]!;
  const t = performance.now();
  recognizeFaces(await engine.analyze(img.buffer), index);
  perImageMs.push(performance.now() - t);
}
const cpu = process.cpuUsage(cpu0);
process.send!({ type: 'done', images: perImageMs.length, ms: performance.now() - t0, perImageMs, cpuMs: (cpu.user + cpu.system) / 1000 });
await engine.close();
process.disconnect();
