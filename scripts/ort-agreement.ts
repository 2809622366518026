/**
 * ORT results against stored wasm ones (not a test). The wasm side is JSON-lines files of engine
 * results in the LFW cache format (./lib/lfw-cache.ts: one line per LFW image, `image` relative
 * to `<lfw>/images`, `faces` largest first, each with `box` and `descriptor` as base64
 * little-endian float32). The ORT side is either analysed here (the default) or read from a
 * cache folder written by `lfw-describe.ts --engine-backend ort` (`--ort-cache DIR`).
 *
 * It reports face-count mismatches, the largest box difference and the descriptor L2
 * distribution. With `--view2` it takes the 7,701 images of LFW View 2's pairs and also scores
 * View 2's ten folds on both sides (the face nearest the image centre, each fold at the
 * threshold best on the other nine), with the pairs each side gets right.
 *
 *   npx tsx scripts/ort-agreement.ts --cache FILE[,FILE...] [--limit 200] [--lfw DIR] [--json]
 *   npx tsx scripts/ort-agreement.ts --cache FILE[,FILE...] --ort-cache DIR --view2 [--lfw DIR] [--json]
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { loadEngine } from '../src/recognition/engine.js';
import { euclidean } from '../src/recognition/matcher.js';
import { decodeDescriptor, readCache, toCached, view2Images, type CachedImage } from './lib/lfw-cache.js';
import { crossValidate, lfwDirOrExit, meanStd, readPairs, type Scored } from './lib/lfw.js';

const opts = new Command()
  .requiredOption('--cache <files>', 'comma-separated JSON-lines files of wasm results')
  .option('--ort-cache <dir>', 'read the ORT results from this cache folder instead of analysing the images')
  .option('--view2', "the images of LFW View 2's pairs, and the ten-fold accuracy on both sides")
  .option('--limit <n>', 'images to compare (without --view2)', '200')
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse()
  .opts<{ cache: string; ortCache?: string; view2?: boolean; limit: string; lfw?: string; json?: boolean }>();
const lfwRoot = lfwDirOrExit(opts.lfw);

const wasm = new Map<string, CachedImage>();
for (const file of opts.cache.split(',')) {
  for (const line of (await fs.readFile(file, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    let o: Omit<CachedImage, 'faces'> & { faces: Array<{ box: CachedImage['faces'][0]['box']; score: number; descriptor: string }> };
    try {
      o = JSON.parse(line);
    } catch {
      continue; // a torn last line of a cache still being written
    }
    wasm.set(o.image, { ...o, faces: (o.faces ?? []).map((f) => ({ ...f, descriptor: decodeDescriptor(f.descriptor) })) });
  }
}
const wanted = opts.view2 ? [...(await view2Images(lfwRoot))].sort() : [...wasm.keys()].slice(0, Number(opts.limit));
const missingWasm = wanted.filter((im) => !wasm.has(im));
if (missingWasm.length) throw new Error(`${missingWasm.length} of ${wanted.length} images are not in --cache (first: ${missingWasm[0]})`);

const t0 = performance.now();
let ort: Map<string, CachedImage>;
if (opts.ortCache) {
  ort = await readCache(opts.ortCache, 'standard');
  const missing = wanted.filter((im) => !ort.has(im));
  if (missing.length) throw new Error(`${missing.length} of ${wanted.length} images are not in --ort-cache (first: ${missing[0]})`);
} else {
  ort = new Map();
  const engine = await loadEngine({ tfBackend: 'wasm', engineBackend: 'ort', log: createLogger({ level: 'warn', name: 'ort-agreement' }) });
  for (const im of wanted) ort.set(im, toCached(im, await engine.analyze(await fs.readFile(path.join(lfwRoot, 'images', im)))));
  await engine.close();
}

const distances: number[] = [];
const over1e4: Array<{ image: string; face: number; l2: number }> = [];
const countMismatches: string[] = [];
let errorMismatches = 0;
let maxBoxPx = 0;
for (const im of wanted) {
  const w = wasm.get(im)!, o = ort.get(im)!;
  if (Boolean(w.error) !== Boolean(o.error)) errorMismatches++;
  if (w.faces.length !== o.faces.length) {
    countMismatches.push(im);
    continue;
  }
  w.faces.forEach((f, i) => {
    const l2 = euclidean(f.descriptor, o.faces[i].descriptor);
    distances.push(l2);
    if (l2 > 1e-4) over1e4.push({ image: im, face: i, l2 });
    for (const k of ['x', 'y', 'width', 'height'] as const) maxBoxPx = Math.max(maxBoxPx, Math.abs(f.box[k] - o.faces[i].box[k]));
  });
}
distances.sort((a, b) => a - b);
const q = (p: number) => distances[Math.min(distances.length - 1, Math.floor(p * distances.length))] ?? 0;

/** View 2's ten folds on one side's results: the subject face (nearest the centre) of each image. */
async function tenFold(side: Map<string, CachedImage>) {
  const root = path.join(lfwRoot, 'images') + path.sep;
  const rel = (f: string) => f.slice(root.length).split(path.sep).join('/');
  const subject = (im: string) => {
    const c = side.get(rel(im))!;
    return c.subject === null ? null : c.faces[c.subject].descriptor;
  };
  const scored = new Map<number, Scored[]>();
  (await readPairs(lfwRoot)).forEach((fold, i) => scored.set(i + 1, fold.map((p) => {
    const a = subject(p.a), b = subject(p.b);
    return { same: p.same, distance: a && b ? euclidean(a, b) : null };
  })));
  const folds = crossValidate(scored);
  const correct = folds.map((r) => Math.round(r.accuracy * scored.get(r.fold)!.length));
  return { ...meanStd(folds.map((r) => r.accuracy)), pairs: [...scored.values()].flat().length, correctPairs: correct.reduce((s, x) => s + x, 0), perFold: folds.map((r, i) => ({ ...r, correct: correct[i] })) };
}

const summary = {
  images: wanted.length,
  faces: distances.length,
  countMismatches: countMismatches.length,
  countMismatchImages: countMismatches.slice(0, 20),
  errorMismatches,
  maxBoxPx,
  descriptorL2: { median: q(0.5), p99: q(0.99), max: distances.at(-1) ?? 0, over1e4: over1e4.length },
  over1e4: over1e4.slice(0, 20),
  seconds: (performance.now() - t0) / 1000,
  ...(opts.view2 ? { tenFold: { wasm: await tenFold(wasm), ort: await tenFold(ort) } } : {}),
};
console.log(
  `${summary.images} LFW images, ${summary.faces} faces compared, ${summary.countMismatches} images with other face counts` +
    `${countMismatches.length ? ` (${countMismatches.slice(0, 5).join(', ')}${countMismatches.length > 5 ? ', ...' : ''})` : ''}, ${errorMismatches} with an error on one side only; ` +
    `descriptor L2 median ${summary.descriptorL2.median.toExponential(2)} p99 ${summary.descriptorL2.p99.toExponential(2)} max ${summary.descriptorL2.max.toExponential(2)} ` +
    `(${summary.descriptorL2.over1e4} over 1e-4); box max ${maxBoxPx.toExponential(2)} px`,
);
for (const o of over1e4.slice(0, 10)) console.log(`  over 1e-4: ${o.image} face ${o.face}: ${o.l2.toExponential(2)}`);
if (summary.tenFold) {
  for (const side of ['wasm', 'ort'] as const) {
    const t = summary.tenFold[side];
    console.log(`View 2 ten-fold, ${side}: ${(t.mean * 100).toFixed(3)}% ± ${(t.std * 100).toFixed(2)}, ${t.correctPairs} of ${t.pairs} pairs right (per fold: ${t.perFold.map((r) => r.correct).join(' ')})`);
  }
}
if (opts.json) console.log(JSON.stringify(summary));
