/**
 * ORT descriptors against stored wasm ones (not a test): reads JSON-lines files of engine
 * results (one line per LFW image: `image` relative to `<lfw>/images`, `faces` largest first,
 * each with `box` and `descriptor` as base64 little-endian float32), analyses the same images
 * on the ORT backend, and reports face-count mismatches, the largest box difference and the
 * descriptor L2 distribution.
 *
 *   npx tsx scripts/ort-agreement.ts --cache FILE[,FILE...] [--limit 200] [--lfw-dir DIR] [--json]
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { loadEngine } from '../src/recognition/engine.js';
import { euclidean } from '../src/recognition/matcher.js';
import type { Box } from '../src/recognition/types.js';
import { lfwDirOrExit } from './lib/lfw.js';

const opts = new Command()
  .requiredOption('--cache <files>', 'comma-separated JSON-lines files of wasm results')
  .option('--limit <n>', 'images to compare', '200')
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse()
  .opts<{ cache: string; limit: string; lfw?: string; json?: boolean }>();
const lfwRoot = lfwDirOrExit(opts.lfw);

interface Stored {
  image: string;
  faces: Array<{ box: Box; descriptor: string }>;
}
const stored: Stored[] = [];
for (const file of opts.cache.split(',')) {
  for (const line of (await fs.readFile(file, 'utf8')).split('\n')) if (line.trim()) stored.push(JSON.parse(line) as Stored);
}
const picked = stored.slice(0, Number(opts.limit));
const decode = (b64: string): Float32Array => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
};

const engine = await loadEngine({ tfBackend: 'wasm', engineBackend: 'ort', log: createLogger({ level: 'warn', name: 'ort-agreement' }) });
const distances: number[] = [];
let countMismatches = 0;
let maxBoxPx = 0;
const t0 = performance.now();
for (const s of picked) {
  const got = await engine.analyze(await fs.readFile(path.join(lfwRoot, 'images', s.image)));
  if (got.faces.length !== s.faces.length) {
    countMismatches++;
    continue;
  }
  s.faces.forEach((f, i) => {
    distances.push(euclidean(decode(f.descriptor), got.faces[i].descriptor));
    for (const k of ['x', 'y', 'width', 'height'] as const) maxBoxPx = Math.max(maxBoxPx, Math.abs(f.box[k] - got.faces[i].box[k]));
  });
}
distances.sort((a, b) => a - b);
const summary = {
  images: picked.length,
  faces: distances.length,
  countMismatches,
  maxBoxPx,
  descriptorL2: { median: distances[Math.floor(distances.length / 2)] ?? 0, max: distances.at(-1) ?? 0, over1e4: distances.filter((d) => d > 1e-4).length },
  seconds: (performance.now() - t0) / 1000,
};
console.log(
  `${summary.images} LFW images, ${summary.faces} faces compared, ${countMismatches} images with other face counts; ` +
    `descriptor L2 median ${summary.descriptorL2.median.toExponential(2)} max ${summary.descriptorL2.max.toExponential(2)} (${summary.descriptorL2.over1e4} over 1e-4); box max ${maxBoxPx.toExponential(2)} px`,
);
if (opts.json) console.log(JSON.stringify(summary));
await engine.close();
