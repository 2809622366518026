/**
 * Upload memory benchmark (not a test): the web process's RSS while `--uploads` concurrent
 * uploads of `--mb` MB each arrive from two client keys, and after they end.
 *
 *   node --import tsx scripts/bench-upload-memory.ts [--uploads 150] [--mb 9.9] [--json]
 *
 * Starts `facefleet web` (auth on, rate limit off, no worker) on a temp data dir. Each upload
 * is a small valid JPEG padded to the size (bytes after the end marker are accepted), so
 * accepted ones are stored as jobs. RSS is read from /proc/<pid>/status every 50 ms: before,
 * the peak while uploads run, and 10 s after the last answer. Statuses are counted (202
 * accepted, 429/503 refused by the upload budget).
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import { Command } from 'commander';
import sharp from 'sharp';
import { multipart } from './lib/http-client.js';
import { send, startWebWithKeys } from './lib/web-child.js';

const opts = new Command().option('--uploads <n>', 'concurrent uploads', '150').option('--mb <x>', 'MB per upload', '9.9').option('--json').parse().opts<{ uploads: string; mb: string; json?: boolean }>();
const uploads = Number(opts.uploads);
const bytes = Math.round(Number(opts.mb) * 1_000_000);

async function rssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

const jpeg = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#a08070' } }).jpeg().toBuffer();
const form = multipart('image', 'big.jpg', Buffer.concat([jpeg, Buffer.alloc(bytes - jpeg.length - 300)]));
const web = await startWebWithKeys({ clients: 2 });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void web.stop().finally(() => process.exit(130)));
const pid = web.proc.pid!;
const agent = new http.Agent({ keepAlive: true, maxSockets: uploads });
try {
  await new Promise((r) => setTimeout(r, 2000));
  const before = await rssMb(pid);
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssMb(pid));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: uploads }, (_, i) =>
      send(agent, `${web.url}/v1/jobs`, 'POST', { authorization: `Bearer ${web.keys[i % 2]!.key}`, 'content-type': form.contentType, 'content-length': form.body.length }, form.body),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 10_000));
  sampling = false;
  await sampler;
  const after = await rssMb(pid);
  const statuses: Record<number, number> = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const result = { uploads, mbEach: Number(opts.mb), seconds: Math.round(seconds * 10) / 10, rssMb: { before: Math.round(before), peak: Math.round(peak), after10s: Math.round(after) }, statuses };
  process.stdout.write(`${uploads} concurrent uploads of ${opts.mb} MB from 2 keys in ${result.seconds} s: web RSS ${result.rssMb.before} MB before, peak ${result.rssMb.peak} MB, ${result.rssMb.after10s} MB 10 s after; ${JSON.stringify(statuses)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  agent.destroy();
  await web.stop();
}
