/**
 * One-off probe (not a test, not the benchmark): alignment choices for the descriptor chip,
 * compared on the same detections. Per LFW image it detects once (engine cascade), keeps the
 * face nearest the image centre, then builds several chips from it:
 * - landmarks: first pass on the detector box (`l1`), or a second pass on a square box around
 *   the first pass's landmarks grown by a margin on each side (`l2-<margin>`);
 * - fit subset: landmarks 17-67 (`all51`) or dlib's own subset for the 68-point model, which
 *   also drops the eyebrows and the lower lip (`dlib`);
 * - `px`: dlib's chip pixel convention (chip pixel 0 and 149 map onto the rect's edges) and
 *   the landmark crop's half-pixel offset;
 * - `n256`: dlib's input scaling ((x - mean) / 256) instead of face-api's / 255.
 * - `l2-avg-dlib`: the second pass's landmarks averaged over every margin's crop.
 * Every chip is averaged with its mirror. Tune on fold 1 only.
 *
 *   npx tsx scripts/probe-lfw-align.ts --folds 1 --shard 0/2 --save /tmp/ff/probe/a.json
 *   npx tsx scripts/probe-lfw-align.ts --folds 1 --load /tmp/ff/probe/a.json,/tmp/ff/probe/b.json
 *
 * `--chips` is the descriptor-side probe (test-time jitter, landmarks averaged with the mirrored
 * image's, px, n256): it saves every chip's raw descriptor, and scoring averages them by recipe,
 * so one run gives "default + k jitters" for every k (see chipProbe below):
 *
 *   npx tsx scripts/probe-lfw-align.ts --chips --jitters 2 --with lm --folds 1,2,3,4,5,6,7,8,9,10 --shard 0/2 --save /tmp/lfw/c8-0.json
 *   npx tsx scripts/probe-lfw-align.ts --chips --folds 1,2,3,4,5,6,7,8,9,10 --load /tmp/lfw/c8-0.json,/tmp/lfw/c8-1.json
 */
import fs from 'node:fs/promises';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { loadEngine } from '../src/recognition/engine.js';
import { DEFAULT_STRATEGY, detectFaces } from '../src/recognition/detect.js';
import { combineDescriptors, describeChips, detectLandmarks, landmarkBox } from '../src/recognition/describe.js';
import { CHIP_PADDING, CHIP_SIZE, chipJitters, fitSimilarity, jitterTransform, meanFacePoints, mirror, warpAffine, type LandmarkSubset, type Point, type Similarity } from '../src/recognition/align.js';
import { decodeImage, type RgbImage } from '../src/recognition/decode.js';
import { euclidean } from '../src/recognition/matcher.js';
import type { Box } from '../src/recognition/types.js';
import { accuracyAt, bestThreshold, crossValidate, lfwDirOrExit, meanStd, readPairs, type Scored } from './lib/lfw.js';

const opts = new Command()
  .option('--folds <list>', 'folds', '1')
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--margins <list>', 'second-pass margins', '0.1,0.2')
  .option('--extra', 'also the px, n256 and l2 all51 chips (3x slower)')
  .option('--only <list>', 'compute only these chips (names as printed)')
  .option('--shard <k/n>')
  .option('--save <file>')
  .option('--load <files>')
  .option('--chips', 'descriptor-side probe: save every chip\'s raw descriptor, score averaging recipes (see chipProbe)')
  .option('--jitters <n>', 'with --chips: jittered chips per image (each with its mirror)', '6')
  .option('--with <list>', 'with --chips: which of the px, lm and n256 chips to compute besides base and the jitters (nobase: skip the base chips)', 'px,lm,n256')
  .parse()
  .opts<{ folds: string; lfw?: string; margins: string; extra?: boolean; only?: string; shard?: string; save?: string; load?: string; chips?: boolean; jitters: string; with: string }>();

/** This shard's share (`--shard k/n`, default all) of the distinct images the folds name. */
function shardImages(all: Awaited<ReturnType<typeof readPairs>>, folds: number[]): string[] {
  const images = [...new Set(folds.flatMap((f) => all[f - 1].flatMap((p) => [p.a, p.b])))];
  const [k, n] = opts.shard ? opts.shard.split('/').map(Number) : [0, 1];
  return images.filter((_, i) => i % n === k);
}

function transform(lm: Point[], subset: LandmarkSubset, px: boolean): Similarity {
  const targets = meanFacePoints(CHIP_SIZE, CHIP_PADDING, subset);
  const t = fitSimilarity(
    targets.map((p) => p.point),
    targets.map(({ index: i }) => (px ? { x: lm[i].x - 0.5, y: lm[i].y - 0.5 } : lm[i])),
  );
  if (!px) return t;
  // dlib: rect centred on tform(size/2) with side size*scale; chip pixels 0 and size-1 land on its edges.
  const cx = t.a * (CHIP_SIZE / 2) - t.b * (CHIP_SIZE / 2) + t.tx, cy = t.b * (CHIP_SIZE / 2) + t.a * (CHIP_SIZE / 2) + t.ty;
  const k = CHIP_SIZE / (CHIP_SIZE - 1), a = t.a * k, b = t.b * k, h = (CHIP_SIZE - 1) / 2;
  return { a, b, tx: cx - (a * h - b * h), ty: cy - (b * h + a * h) };
}

const n256 = (chip: Float32Array): Float32Array => {
  const mean = [122.782, 117.001, 104.298];
  return chip.map((v, i) => mean[i % 3] + ((v - mean[i % 3]) * 255) / 256);
};

// ---------------------------------------------------------------------------------------------
// --chips: the descriptor-side probe. Per image: the engine's cascade, the face nearest the
// centre, landmarks pass 1 + pass 2 (margin 0.1, the default), then these chips, each with its
// mirror (`name~m`), through the descriptor net; every chip's raw descriptor is saved, and the
// scoring step averages them by recipe (so "base + k jitters" for every k comes from one run):
// - base: the engine default's chip (refined, dlib subset);
// - n256: base, with dlib's input scaling (x - mean) / 256 instead of face-api's / 255;
// - px: dlib's pixel convention (chip pixels 0 and 149 on the rect's edges, landmarks -0.5);
// - lm: landmarks averaged with those found on the mirrored image (68-point left/right map);
// - j1..jN: base's transform jittered (`chipJitters`, the engine's list: rotation +-3 deg,
//   crop 0.97-1.0 of the chip, shift +-2% of the side, dlib jitter_image's ranges).
// ---------------------------------------------------------------------------------------------

/** Index i on a face is index MIRROR_68[i] on its left-right mirror image (68-point scheme). */
const MIRROR_68 = (() => {
  const m = Array.from({ length: 68 }, (_, i) => i);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < 8; i++) pairs.push([i, 16 - i]);
  for (let i = 0; i < 5; i++) pairs.push([17 + i, 26 - i]);
  pairs.push([31, 35], [32, 34], [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46]);
  pairs.push([48, 54], [49, 53], [50, 52], [55, 59], [56, 58], [60, 64], [61, 63], [65, 67]);
  for (const [a, b] of pairs) { m[a] = b; m[b] = a; }
  return m;
})();

function mirrorImage(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = Buffer.alloc(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, d = (y * w + w - 1 - x) * 3;
      out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
    }
  }
  return { ...img, data: out };
}

const b64 = (d: Float32Array): string => Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
const unb64 = (s: string): Float32Array => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

async function chipProbe(): Promise<never> {
  const folds = opts.folds.split(',').map(Number);
  const all = await readPairs(lfwDirOrExit(opts.lfw));
  const nJ = Number(opts.jitters);
  const store: Record<string, Record<string, string | null>> = {};
  let seconds = 0, described = 0;
  const ms = { detect: 0, landmarks: 0, mirrorLandmarks: 0, chips: 0, net: 0, nChips: 0 };
  if (opts.load) {
    for (const f of opts.load.split(',')) {
      const s = JSON.parse(await fs.readFile(f, 'utf8')) as { seconds: number; images: number; store: typeof store; ms: typeof ms };
      seconds += s.seconds; described += s.images;
      for (const [k, v] of Object.entries(s.ms)) ms[k as keyof typeof ms] += v;
      for (const [v, m] of Object.entries(s.store)) Object.assign((store[v] ??= {}), m);
    }
  } else {
    const engine = await loadEngine({ tfBackend: 'wasm', log: createLogger({ level: 'warn', name: 'probe' }) });
    const rt = engine.runtime;
    const jit = chipJitters(nJ);
    const mine = shardImages(all, folds);
    const t0 = performance.now();
    for (const [i, file] of mine.entries()) {
      const img = await decodeImage(await fs.readFile(file));
      let t = performance.now();
      const pixels = rt.tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
      let dets;
      try { dets = await detectFaces(rt, img, pixels, DEFAULT_STRATEGY); } finally { pixels.dispose(); }
      ms.detect += performance.now() - t; t = performance.now();
      if (dets.length === 0) { (store.none ??= {})[file] = null; continue; }
      const dist = (b: Box) => Math.hypot(b.x + b.width / 2 - img.width / 2, b.y + b.height / 2 - img.height / 2);
      const box = dets.map((d) => d.box).reduce((best, b) => (dist(b) < dist(best) ? b : best));
      const [l1] = await detectLandmarks(rt, img, [box]);
      const lb = landmarkBox(l1, 0.1);
      const [l2] = await detectLandmarks(rt, img, [lb]);
      ms.landmarks += performance.now() - t; t = performance.now();
      // Second pass on the mirrored image, same (mirrored) box; points mapped back and averaged.
      const extra = opts.with.split(',');
      let avg: Point[] | null = null;
      if (extra.includes('lm')) {
        const mimg = mirrorImage(img);
        const [m2] = await detectLandmarks(rt, mimg, [{ ...lb, x: img.width - lb.x - lb.width }]);
        avg = l2.map((p, q) => ({ x: (p.x + img.width - m2[MIRROR_68[q]].x) / 2, y: (p.y + m2[MIRROR_68[q]].y) / 2 }));
      }
      ms.mirrorLandmarks += performance.now() - t; t = performance.now();
      const tBase = transform(l2, 'dlib', false);
      const specs: Array<{ name: string; t: Similarity }> = [
        { name: 'base', t: tBase },
        ...(extra.includes('px') ? [{ name: 'px', t: transform(l2, 'dlib', true) }] : []),
        ...(avg ? [{ name: 'lm', t: transform(avg, 'dlib', false) }] : []),
        ...jit.map((j, q) => ({ name: `j${q + 1}`, t: jitterTransform(tBase, j) })),
      ];
      const names: string[] = [];
      const chips: Float32Array[] = [];
      for (const s of specs) {
        const c = warpAffine(img, s.t, CHIP_SIZE, CHIP_SIZE);
        const m = mirror(c, CHIP_SIZE, CHIP_SIZE);
        // `--with nobase`: the base descriptors come from an earlier run's file (they are deterministic).
        if (s.name !== 'base' || !extra.includes('nobase')) { chips.push(c, m); names.push(s.name, `${s.name}~m`); }
        if (s.name === 'base' && extra.includes('n256')) { chips.push(n256(c), n256(m)); names.push('n256', 'n256~m'); }
      }
      ms.chips += performance.now() - t; t = performance.now();
      const raw = await describeChips(rt, chips);
      ms.net += performance.now() - t; ms.nChips += chips.length;
      names.forEach((nm, q) => ((store[nm] ??= {})[file] = b64(raw[q])));
      if (i % 25 === 0) process.stderr.write(`\r${i + 1}/${mine.length} ${((i + 1) / ((performance.now() - t0) / 1000)).toFixed(2)}/s  `);
    }
    seconds = (performance.now() - t0) / 1000; described = mine.length;
    console.log(`described ${mine.length} in ${seconds.toFixed(0)} s`);
    if (opts.save) {
      await fs.writeFile(opts.save, JSON.stringify({ seconds, images: mine.length, store, ms }));
      process.exit(0);
    }
  }
  const none = new Set(Object.keys(store.none ?? {}));
  const cache = new Map<string, Map<string, Float32Array>>();
  const chip = (name: string, file: string): Float32Array | null => {
    if (none.has(file)) return null;
    let m = cache.get(name);
    if (!m) cache.set(name, (m = new Map()));
    let d = m.get(file);
    if (!d) { const s = store[name]?.[file]; if (!s) return null; d = unb64(s); m.set(file, d); }
    return d;
  };
  const pair = (n: string) => [n, `${n}~m`];
  const recipes: Record<string, string[]> = {
    'base (engine default)': pair('base'),
    'base, no mirror': ['base'],
    n256: pair('n256'),
    px: pair('px'),
    lm: pair('lm'),
    'base+lm': [...pair('base'), ...pair('lm')],
  };
  const maxJ = Object.keys(store).filter((k) => /^j\d+$/.test(k)).length;
  for (let q = 1; q <= maxJ; q++) {
    recipes[`base+j1..j${q}`] = [...pair('base'), ...Array.from({ length: q }, (_, r) => pair(`j${r + 1}`)).flat()];
  }
  if (maxJ) {
    recipes[`j1..j${maxJ} (no base)`] = Array.from({ length: maxJ }, (_, r) => pair(`j${r + 1}`)).flat();
    recipes[`base+lm+j1..j${maxJ}`] = [...pair('base'), ...pair('lm'), ...Array.from({ length: maxJ }, (_, r) => pair(`j${r + 1}`)).flat()];
  }
  for (const extra of (process.env.PROBE_RECIPES ?? '').split(';').filter(Boolean)) {
    const [label, list] = extra.split('=');
    recipes[label] = list.split(',');
  }
  // The same recipes with the averaged descriptor L2-normalised (changes the threshold scale: information only).
  if (process.env.PROBE_NORM) for (const [label, list] of Object.entries(recipes)) recipes[`${label} +L2`] = list;
  for (const [label, list] of Object.entries(recipes)) {
    if (!list.every((nm) => store[nm])) continue;
    const norm = label.endsWith(' +L2');
    const scored = new Map<number, Scored[]>();
    for (const f of folds) {
      scored.set(f, all[f - 1].map((p) => {
        const da = list.map((nm) => chip(nm, p.a)), db = list.map((nm) => chip(nm, p.b));
        if (da.some((d) => !d) || db.some((d) => !d)) return { same: p.same, distance: null };
        return { same: p.same, distance: euclidean(combineDescriptors(da as Float32Array[], norm), combineDescriptors(db as Float32Array[], norm)) };
      }));
    }
    const res = crossValidate(scored);
    const { mean, std } = meanStd(res.map((r) => r.accuracy));
    const pairs = [...scored.values()].flat();
    console.log(`${label.padEnd(24)} ${(mean * 100).toFixed(2)}% ± ${(std * 100).toFixed(2)}  [${res.map((r) => (r.accuracy * 100).toFixed(2)).join(' ')}]  auc ${(auc(pairs) * 100).toFixed(3)}  chips ${list.length}`);
  }
  const per = (v: number) => (v / (described - none.size)).toFixed(1);
  console.log(`${none.size} images without a face; ${described} images in ${seconds.toFixed(0)} s of process time; ms/image: detect ${per(ms.detect)}, landmarks x2 ${per(ms.landmarks)}, mirrored-image landmark pass ${per(ms.mirrorLandmarks)}, chip sampling ${per(ms.chips)}, net ${per(ms.net)} for ${(ms.nChips / (described - none.size)).toFixed(1)} chips (${(ms.net / ms.nChips).toFixed(1)} ms/chip)`);
  process.exit(0);
}

if (opts.chips) await chipProbe();

const margins = opts.margins.split(',').map(Number);
const all = await readPairs(lfwDirOrExit(opts.lfw));
const folds = opts.folds.split(',').map(Number);
const store: Record<string, Record<string, number[] | null>> = {};
const put = (v: string, img: string, d: Float32Array | null) => ((store[v] ??= {})[img] = d ? Array.from(d) : null);
let seconds = 0, described = 0;
const extraLandmarkMs: number[] = [];

if (opts.load) {
  for (const f of opts.load.split(',')) {
    const s = JSON.parse(await fs.readFile(f, 'utf8')) as { seconds: number; images: number; store: typeof store };
    seconds += s.seconds; described += s.images;
    for (const [v, m] of Object.entries(s.store)) Object.assign((store[v] ??= {}), m);
  }
} else {
  const engine = await loadEngine({ tfBackend: 'wasm', log: createLogger({ level: 'warn', name: 'probe' }) });
  const rt = engine.runtime;
  const mine = shardImages(all, folds);
  const t0 = performance.now();
  for (const [i, file] of mine.entries()) {
    const img = await decodeImage(await fs.readFile(file));
    const pixels = rt.tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
    let dets;
    try { dets = await detectFaces(rt, img, pixels, DEFAULT_STRATEGY); } finally { pixels.dispose(); }
    if (dets.length === 0) { put('none', file, null); continue; }
    const dist = (b: Box) => Math.hypot(b.x + b.width / 2 - img.width / 2, b.y + b.height / 2 - img.height / 2);
    const box = dets.map((d) => d.box).reduce((best, b) => (dist(b) < dist(best) ? b : best));
    const [l1] = await detectLandmarks(rt, img, [box]);
    const tl = performance.now();
    const l2s = await detectLandmarks(rt, img, margins.map((m) => landmarkBox(l1, m)));
    extraLandmarkMs.push((performance.now() - tl) / margins.length);
    const specs: { name: string; t: Similarity; n256?: boolean }[] = [
      { name: 'l1-all51', t: transform(l1, 'all51', false) },
      { name: 'l1-dlib', t: transform(l1, 'dlib', false) },
    ];
    if (opts.extra) {
      specs.push({ name: 'l1-all51-px', t: transform(l1, 'all51', true) });
      specs.push({ name: 'l1-all51-n256', t: transform(l1, 'all51', false), n256: true });
    }
    margins.forEach((m, j) => {
      if (opts.extra) specs.push({ name: `l2-${m}-all51`, t: transform(l2s[j], 'all51', false) });
      specs.push({ name: `l2-${m}-dlib`, t: transform(l2s[j], 'dlib', false) });
    });
    // Landmarks averaged over the second-pass crops of every margin: less crop noise, no extra chip.
    const avg = l1.map((_, q) => ({ x: l2s.reduce((t, l) => t + l[q].x, 0) / l2s.length, y: l2s.reduce((t, l) => t + l[q].y, 0) / l2s.length }));
    specs.push({ name: 'l2-avg-dlib', t: transform(avg, 'dlib', false) });
    if (opts.only) {
      const only = opts.only.split(',');
      specs.splice(0, specs.length, ...specs.filter((x) => only.includes(x.name)));
    }
    const chips: Float32Array[] = [];
    for (const s of specs) {
      const c = warpAffine(img, s.t, CHIP_SIZE, CHIP_SIZE);
      const pair = [c, mirror(c, CHIP_SIZE, CHIP_SIZE)];
      chips.push(...(s.n256 ? pair.map(n256) : pair));
    }
    const raw = await describeChips(rt, chips);
    specs.forEach((s, j) => put(s.name, file, combineDescriptors(raw.slice(2 * j, 2 * j + 2), false)));
    if (i % 25 === 0) process.stderr.write(`\r${i + 1}/${mine.length} ${((i + 1) / ((performance.now() - t0) / 1000)).toFixed(2)}/s  `);
  }
  seconds = (performance.now() - t0) / 1000; described = mine.length;
  const meanExtra = extraLandmarkMs.reduce((s, x) => s + x, 0) / (extraLandmarkMs.length || 1);
  console.log(`described ${mine.length} in ${seconds.toFixed(0)} s; second landmark pass ~${meanExtra.toFixed(1)} ms per box (batched)`);
  if (opts.save) {
    await fs.writeFile(opts.save, JSON.stringify({ seconds, images: mine.length, store }));
    process.exit(0);
  }
}

/** Probability a same pair is nearer than a different pair (ROC AUC): a smoother signal than accuracy on 600 pairs. */
function auc(pairs: Scored[]): number {
  const s = pairs.filter((p) => p.same && p.distance !== null).map((p) => p.distance as number);
  const d = pairs.filter((p) => !p.same && p.distance !== null).map((p) => p.distance as number);
  let w = 0;
  for (const x of s) for (const y of d) w += x < y ? 1 : x === y ? 0.5 : 0;
  return w / (s.length * d.length || 1);
}

const none = new Set(Object.keys(store.none ?? {}));
for (const v of Object.keys(store).filter((x) => x !== 'none')) {
  const scored = new Map<number, Scored[]>();
  for (const f of folds) {
    scored.set(f, all[f - 1].map((p) => {
      const a = none.has(p.a) ? null : store[v][p.a], b = none.has(p.b) ? null : store[v][p.b];
      return { same: p.same, distance: a && b ? euclidean(Float32Array.from(a), Float32Array.from(b)) : null };
    }));
  }
  const res = crossValidate(scored);
  const { mean } = meanStd(res.map((r) => r.accuracy));
  const pairs = [...scored.values()].flat();
  const t = bestThreshold(pairs);
  console.log(`${v.padEnd(20)} acc ${(mean * 100).toFixed(2)}%  best-in-sample ${(accuracyAt(pairs, t) * 100).toFixed(2)}% @${t.toFixed(3)}  auc ${(auc(pairs) * 100).toFixed(3)}`);
}
console.log(`${none.size} images without a face; ${described} images described in ${seconds.toFixed(0)} s of process time`);
