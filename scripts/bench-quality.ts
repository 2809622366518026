/**
 * Face quality against verification error on LFW View 2 (not a test).
 *
 *   npm run bench:quality -- [--lfw DIR] [--cache DIR] [--quality FILE] [--dev 1-5] [--limit N]
 *
 * For every image of View 2's 6,000 pairs it needs the centre face's descriptor and its quality.
 * Descriptors come from the LFW descriptor cache (`./lib/lfw-cache.ts`, filled by bench:identify);
 * quality is computed by the engine's own code (`src/recognition/quality.ts`) on the engine's
 * landmarks (face-api's 68, refined), located on the cached face box: the same numbers the engine
 * gives, without running detection and the descriptor net again. An image missing from the
 * descriptor cache is analysed by the full engine. Results go to a JSON Lines cache (`--quality`),
 * so an interrupted run resumes.
 *
 * A pair's quality is the lower score of its two faces. Each pair is judged at `verify`'s fixed
 * threshold (DEFAULT_VERIFY_THRESHOLD); a pair with a faceless image is an error. The report:
 * the error rate (and the mean distance of genuine pairs) by band of the pair's quality, on the
 * development folds (`--dev`, default 1-5) and on the others, with band edges at fixed shares of
 * the development pairs, then the thresholds the development folds pick (docs/face-quality.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { decodeImage } from '../src/recognition/decode.js';
import { DEFAULT_REFINE_MARGIN, locateLandmarks } from '../src/recognition/describe.js';
import { DEFAULT_VERIFY_THRESHOLD } from '../src/recognition/decision.js';
import { loadEngine } from '../src/recognition/engine.js';
import { euclidean } from '../src/recognition/matcher.js';
import { assessFace, qualityScore, type FaceQuality } from '../src/recognition/quality.js';
import type { HeadPose } from '../src/recognition/pose.js';
import { centreFace, decodeDescriptor, encodeDescriptor, readCache } from './lib/lfw-cache.js';
import { lfwDirOrExit, readPairs } from './lib/lfw.js';

const opts = new Command()
  .option('--lfw <dir>', 'LFW folder (pairs.txt, images/)')
  .option('--cache <dir>', 'LFW descriptor cache folder (bench:identify)', path.join(os.tmpdir(), 'facefleet-lfw-cache'))
  .option('--quality <file>', 'quality cache (JSON Lines; default <cache>/lfw-quality.jsonl)')
  .option('--dev <range>', 'development folds, whose measurements choose the defaults', '1-5')
  .option('--limit <n>', 'stop computing after this many new images (the report covers pairs with both images done)')
  .option('--engine-backend <name>', 'where the landmark net runs: ort | wasm (same landmarks to ~1e-6, docs/engine.md)', 'ort')
  .option('--json', 'print the report as JSON')
  .parse()
  .opts<{ lfw?: string; cache: string; quality?: string; dev: string; limit?: string; engineBackend: 'ort' | 'wasm'; json?: boolean }>();

interface QualityLine {
  image: string;
  quality?: FaceQuality;
  pose?: HeadPose;
  /** Base64 float32 descriptor, only for images the descriptor cache lacked. */
  descriptor?: string;
  error?: string;
}

const lfw = lfwDirOrExit(opts.lfw);
const qualityFile = opts.quality ?? path.join(opts.cache, 'lfw-quality.jsonl');
const folds = await readPairs(lfw);
const rel = (p: string): string => path.relative(path.join(lfw, 'images'), p).split(path.sep).join('/');
// Images in the order of pairs taken round-robin over the folds: a partial run (`--limit`, or one
// stopped early) covers complete pairs from every fold, same and different alike.
const roundRobin = Array.from({ length: Math.max(...folds.map((f) => f.length)) }, (_, k) => folds.map((f) => f[k]).filter(Boolean)).flat();
const images = [...new Set(roundRobin.flatMap((p) => [rel(p.a), rel(p.b)]))];
const descriptors = await readCache(opts.cache, 'standard');

const done = new Map<string, QualityLine>();
if (fs.existsSync(qualityFile)) {
  for (const line of fs.readFileSync(qualityFile, 'utf8').split('\n')) {
    try {
      const q = JSON.parse(line) as QualityLine;
      if (q.image) done.set(q.image, q);
    } catch {
      // A torn last line from an interrupted run: that image is computed again.
    }
  }
}

const todo = images.filter((i) => !done.has(i)).slice(0, opts.limit ? Number(opts.limit) : undefined);
if (todo.length > 0) {
  const engine = await loadEngine({ engineBackend: opts.engineBackend });
  fs.mkdirSync(path.dirname(qualityFile), { recursive: true });
  const out = fs.openSync(qualityFile, 'a');
  const started = Date.now();
  let full = 0;
  for (const [k, image] of todo.entries()) {
    const bytes = fs.readFileSync(path.join(lfw, 'images', image));
    const cached = descriptors.get(image);
    let line: QualityLine;
    try {
      if (cached && cached.subject !== null) {
        const img = await decodeImage(bytes);
        const [landmarks] = await locateLandmarks(engine.runtime, img, [cached.faces[cached.subject].box], DEFAULT_REFINE_MARGIN);
        line = { image, ...assessFace(img, landmarks) };
      } else {
        full += 1;
        const analyzed = await engine.analyze(bytes);
        const i = centreFace(analyzed);
        const face = i === null ? undefined : analyzed.faces[i];
        line = face ? { image, quality: face.quality, pose: face.pose, descriptor: encodeDescriptor(face.descriptor) } : { image, error: 'no face' };
      }
    } catch (err) {
      line = { image, error: (err as Error).message };
    }
    fs.writeSync(out, `${JSON.stringify(line)}\n`);
    done.set(image, line);
    if ((k + 1) % 250 === 0) process.stderr.write(`${k + 1}/${todo.length} images, ${((k + 1) / ((Date.now() - started) / 1000)).toFixed(1)}/s, ${full} by the full engine\n`);
  }
  fs.closeSync(out);
  process.stderr.write(`computed ${todo.length} images in ${((Date.now() - started) / 1000).toFixed(0)} s (${full} by the full engine, backend ${engine.backend})\n`);
}

function descriptorOf(image: string): Float32Array | null {
  const q = done.get(image);
  if (q?.descriptor) return decodeDescriptor(q.descriptor);
  const c = descriptors.get(image);
  return c && c.subject !== null ? c.faces[c.subject].descriptor : null;
}

interface PairScore {
  fold: number;
  quality: number;
  error: boolean;
  /** Distance of a genuine pair (same person) with both faces found; a steadier signal than errors. */
  genuine?: number;
}

const pairs: PairScore[] = [];
folds.forEach((fold, f) => {
  for (const p of fold) {
    const [a, b] = [rel(p.a), rel(p.b)];
    const qa = done.get(a), qb = done.get(b);
    if (!qa || !qb) continue;
    const da = descriptorOf(a), db = descriptorOf(b);
    // Scores from the measures, so the report follows the current ramps; a faceless image fails the pair at quality 0.
    const score = (q: QualityLine): number => (q.quality && q.pose ? qualityScore(q.quality, q.pose) : 0);
    const quality = Math.min(score(qa), score(qb));
    const distance = da && db ? euclidean(da, db) : null;
    const error = distance === null ? true : (distance <= DEFAULT_VERIFY_THRESHOLD) !== p.same;
    pairs.push({ fold: f + 1, quality, error, ...(p.same && distance !== null ? { genuine: distance } : {}) });
  }
});

const [devFrom, devTo] = opts.dev.split('-').map(Number);
const isDev = (p: PairScore): boolean => p.fold >= devFrom && p.fold <= (devTo ?? devFrom);
/** Band edges at these shares of the development pairs, lowest quality first: the bottom 5%, the next 10%, 20%, 30%, and the top 35%. */
const BAND_SHARES = [0.05, 0.15, 0.35, 0.65];

/** Wilson 95% interval of k errors in n. */
function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.96, p = k / n, d = 1 + (z * z) / n;
  const c = p + (z * z) / (2 * n), h = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [(c - h) / d, (c + h) / d];
}

function bands(set: PairScore[], edges: number[]) {
  return edges.slice(0, -1).map((lo, i) => {
    const hi = edges[i + 1];
    const inBand = set.filter((p) => p.quality >= lo && p.quality < hi);
    const errors = inBand.filter((p) => p.error).length;
    const [ciLo, ciHi] = wilson(errors, inBand.length);
    const genuine = inBand.flatMap((p) => (p.genuine === undefined ? [] : [p.genuine]));
    return {
      band: `${lo.toFixed(3)}-${Math.min(1, hi).toFixed(3)}`,
      pairs: inBand.length,
      errors,
      errorRate: inBand.length ? errors / inBand.length : null,
      ci95: [ciLo, ciHi],
      meanGenuineDistance: genuine.length ? genuine.reduce((a, b) => a + b, 0) / genuine.length : null,
    };
  });
}

/**
 * The thresholds the development pairs choose, from a 0.05 grid: for recognition, the largest t
 * that gates at most 5% of pairs while the pairs under it err at least 1.5x as often as those at
 * or above it; for enrollment (a face enrolled is compared with every later face, so a poor one
 * costs more) the same with at most 15% of pairs gated and 1.25x.
 */
function choose(set: PairScore[], maxGated: number, ratio: number): number {
  let best = 0;
  for (let t = 0.05; t < 1; t += 0.05) {
    const below = set.filter((p) => p.quality < t), above = set.filter((p) => p.quality >= t);
    if (below.length === 0 || above.length === 0 || below.length / set.length > maxGated) continue;
    const eb = below.filter((p) => p.error).length / below.length, ea = above.filter((p) => p.error).length / above.length;
    if (eb >= ratio * ea) best = Math.round(t * 100) / 100;
  }
  return best;
}

const dev = pairs.filter(isDev), test = pairs.filter((p) => !isDev(p));
const sortedDev = dev.map((p) => p.quality).sort((a, b) => a - b);
const edges = [0, ...BAND_SHARES.map((s) => sortedDev[Math.floor(s * sortedDev.length)] ?? 0), 1.0001];
const report = {
  command: `npm run bench:quality -- ${process.argv.slice(2).join(' ')}`.trim(),
  data: `LFW View 2 (${lfw}), ${images.length} images in ${folds.flat().length} pairs; ${done.size} images measured`,
  threshold: DEFAULT_VERIFY_THRESHOLD,
  dev: { folds: opts.dev, pairs: dev.length, errors: dev.filter((p) => p.error).length, bands: bands(dev, edges) },
  test: { folds: `the other ${folds.length - ((devTo ?? devFrom) - devFrom + 1)}`, pairs: test.length, errors: test.filter((p) => p.error).length, bands: bands(test, edges) },
  chosenOnDev: { minQuality: choose(dev, 0.05, 1.5), minEnrollQuality: choose(dev, 0.15, 1.25) },
};

if (opts.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
  process.stdout.write(`${report.command}\n${report.data}\nverify threshold ${report.threshold}\n`);
  for (const part of [report.dev, report.test]) {
    process.stdout.write(`\nfolds ${part.folds}: ${part.pairs} pairs, ${part.errors} errors (${pct(part.errors / Math.max(1, part.pairs))})\n| lower score of the pair | pairs | errors | error rate | 95% CI | mean genuine distance |\n|---|---|---|---|---|---|\n`);
    for (const b of part.bands) process.stdout.write(`| ${b.band} | ${b.pairs} | ${b.errors} | ${pct(b.errorRate)} | ${pct(b.ci95[0])}-${pct(b.ci95[1])} | ${b.meanGenuineDistance?.toFixed(3) ?? '-'} |\n`);
  }
  process.stdout.write(`\nchosen on folds ${opts.dev}: minQuality ${report.chosenOnDev.minQuality}, minEnrollQuality ${report.chosenOnDev.minEnrollQuality}\n`);
}
