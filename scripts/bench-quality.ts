/**
 * Face quality against verification error on LFW (not a test).
 *
 *   npm run bench:quality -- [--lfw DIR] [--cache DIR] [--quality FILE] [--dev 1-5] [--bands 3]
 *                            [--limit N] [--cached-only] [--pairs view2|all] [--seed 18]
 *                            [--impostors 500000] [--fmr 0.001] [--replicates 200] [--json]
 *
 * For every image of View 2's 6,000 pairs it needs the centre face's descriptor and its quality.
 * Descriptors come from the LFW descriptor cache (`./lib/lfw-cache.ts`, filled by bench:identify);
 * quality is computed by the engine's own code (`src/recognition/quality.ts`) on the engine's
 * landmarks (face-api's 68, refined), located on the cached face box: the same numbers the engine
 * gives, without running detection and the descriptor net again. An image missing from the
 * descriptor cache is analysed by the full engine, unless `--cached-only` (for use while the
 * descriptor cache is being built: such images wait for a later run). Results go to a JSON Lines
 * cache (`--quality`), with the landmarks the measures were taken on, so an interrupted run resumes.
 *
 * A pair's quality is the lower score of its two faces. Each pair is judged at `verify`'s fixed
 * threshold (DEFAULT_VERIFY_THRESHOLD); a pair with a faceless image is an error. The report:
 * the error rate with its 95% interval, false rejects and false accepts, and the mean distance of
 * genuine pairs and the share of them farther apart than the 1:N rule's threshold (DEFAULT_RULE:
 * a face the recognition rule would leave unnamed), by band of the pair's quality, on the development folds (`--dev`, default 1-5)
 * and on the others, with `--bands` bands (default 3) at equal shares of the development pairs;
 * whether the error rate and the genuine distance fall band to band; the rank correlation of a
 * genuine pair's quality with its distance; then the thresholds the development folds pick
 * (docs/face-quality.md).
 *
 * `--pairs all` measures every LFW image instead and reports the protocol of
 * `./lib/quality-all-pairs.ts`: people split in two halves by name (seeded), every genuine pair and
 * `--impostors` sampled impostor pairs within each half, bands at equal shares of the development
 * half's pairs; per band FRR, FAR at the same threshold and their mean (the balanced error), with
 * Wilson intervals and a bootstrap over people; then the quality-validation measures of ISO/IEC
 * 29794-1 (`./lib/quality-fnmr.ts`): FNMR by band and the EDC at the threshold where `--fmr` of the
 * development impostor pairs match, and at verify's, per pair and per person.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { decodeImage } from '../src/recognition/decode.js';
import { DEFAULT_REFINE_MARGIN, detectLandmarks, landmarkBox } from '../src/recognition/describe.js';
import type { Point } from '../src/recognition/align.js';
import { DEFAULT_RULE, DEFAULT_VERIFY_THRESHOLD } from '../src/recognition/decision.js';
import { loadEngine } from '../src/recognition/engine.js';
import { euclidean } from '../src/recognition/matcher.js';
import { assessFace, qualityScore, type FaceQuality } from '../src/recognition/quality.js';
import type { HeadPose } from '../src/recognition/pose.js';
import { allPairsReport, formatAllPairs } from './lib/quality-all-pairs.js';
import { bandEdges, falling, wilson } from './lib/quality-pairs.js';
import { centreFace, decodeDescriptor, describeOrder, encodeDescriptor, listLfwImages, readCache } from './lib/lfw-cache.js';
import { lfwDirOrExit, readPairs } from './lib/lfw.js';

const opts = new Command()
  .option('--lfw <dir>', 'LFW folder (pairs.txt, images/)')
  .option('--cache <dir>', 'LFW descriptor cache folder (bench:identify)', path.join(os.tmpdir(), 'facefleet-lfw-cache'))
  .option('--quality <file>', 'quality cache (JSON Lines; default <cache>/lfw-quality.jsonl)')
  .option('--dev <range>', 'development folds, whose measurements choose the defaults', '1-5')
  .option('--limit <n>', 'stop computing after this many new images (the report covers pairs with both images done)')
  .option('--cached-only', 'measure only images already in the descriptor cache (while it is being built); the report covers pairs with both images done')
  .option('--engine-backend <name>', 'where the landmark net runs: ort | wasm (same landmarks to ~1e-6, docs/engine.md)', 'ort')
  .option('--bands <n>', 'quality bands, at equal shares of the development pairs', '3')
  .option('--pairs <set>', 'view2: the 6,000 pairs of pairs.txt; all: every genuine pair of all LFW images and a seeded sample of impostor pairs, split by person', 'view2')
  .option('--seed <n>', '--pairs all: seed of the split by person and of the impostor sample', '18')
  .option('--impostors <n>', '--pairs all: impostor pairs sampled in each half', '500000')
  .option('--fmr <rate>', '--pairs all: the false-match rate on the development half\'s impostor pairs that sets the FNMR threshold', '0.001')
  .option('--replicates <n>', '--pairs all: bootstrap replicates (people resampled) for the intervals that allow for shared images', '200')
  .option('--json', 'print the report as JSON')
  .parse()
  .opts<{ pairs: 'view2' | 'all'; seed: string; fmr: string; impostors: string; replicates: string; lfw?: string; cache: string; quality?: string; dev: string; limit?: string; engineBackend: 'ort' | 'wasm'; json?: boolean; cachedOnly?: boolean; bands: string }>();

interface QualityLine {
  image: string;
  quality?: FaceQuality;
  pose?: HeadPose;
  /** The 68 landmarks the measures were taken on, image pixels rounded to 0.01, and the first landmark pass's (before refinement). */
  landmarks?: [number, number][];
  first?: [number, number][];
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
const images = opts.pairs === 'all' ? describeOrder(await listLfwImages(lfw)).flat() : [...new Set(roundRobin.flatMap((p) => [rel(p.a), rel(p.b)]))];
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

const pts = (l: Point[]): [number, number][] => l.map((p) => [Math.round(p.x * 100) / 100, Math.round(p.y * 100) / 100]);
const todo = images.filter((i) => !done.has(i) && (!opts.cachedOnly || descriptors.has(i))).slice(0, opts.limit ? Number(opts.limit) : undefined);
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
        const [first] = await detectLandmarks(engine.runtime, img, [cached.faces[cached.subject].box]);
        const [landmarks] = await detectLandmarks(engine.runtime, img, [landmarkBox(first, DEFAULT_REFINE_MARGIN)]);
        line = { image, ...assessFace(img, landmarks), landmarks: pts(landmarks), first: pts(first) };
      } else {
        full += 1;
        const analyzed = await engine.analyze(bytes);
        const i = centreFace(analyzed);
        const face = i === null ? undefined : analyzed.faces[i];
        line = face ? { image, quality: face.quality, pose: face.pose, ...(face.landmarks ? { landmarks: pts(face.landmarks) } : {}), descriptor: encodeDescriptor(face.descriptor) } : { image, error: 'no face' };
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

// Scores from the measures, so the report follows the current ramps; a faceless image fails its pairs at quality 0.
const scoreOf = (q: QualityLine | undefined): number => (q?.quality && q.pose ? qualityScore(q.quality, q.pose) : 0);
const bandCount = Number(opts.bands);
if (!Number.isInteger(bandCount) || bandCount < 2) throw new RangeError('--bands must be an integer of at least 2');

if (opts.pairs === 'all') {
  const measured = images.filter((i) => done.has(i));
  const report = {
    command: `npm run bench:quality -- ${process.argv.slice(2).join(' ')}`.trim(),
    data: `every LFW image (${lfw}): ${images.length} images, ${measured.length} measured`,
    threshold: DEFAULT_VERIFY_THRESHOLD,
    ruleThreshold: DEFAULT_RULE.threshold,
    ...allPairsReport({
      images: measured, score: (i) => scoreOf(done.get(i)), descriptor: descriptorOf, seed: Number(opts.seed), impostors: Number(opts.impostors),
      bands: bandCount, threshold: DEFAULT_VERIFY_THRESHOLD, ruleThreshold: DEFAULT_RULE.threshold, replicates: Number(opts.replicates), fmr: Number(opts.fmr),
    }),
  };
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${report.command}\n${report.data}\n${formatAllPairs(report, report.threshold, report.ruleThreshold)}`);
} else {
  view2Report();
}

/** The View 2 protocol: pairs.txt's 6,000 pairs, development folds against the others. */
function view2Report(): void {
  interface PairScore {
    fold: number;
    quality: number;
    same: boolean;
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
      const quality = Math.min(scoreOf(qa), scoreOf(qb));
      const distance = da && db ? euclidean(da, db) : null;
      const error = distance === null ? true : (distance <= DEFAULT_VERIFY_THRESHOLD) !== p.same;
      pairs.push({ fold: f + 1, quality, same: p.same, error, ...(p.same && distance !== null ? { genuine: distance } : {}) });
    }
  });

  const [devFrom, devTo] = opts.dev.split('-').map(Number);
  const isDev = (p: PairScore): boolean => p.fold >= devFrom && p.fold <= (devTo ?? devFrom);

  /** Spearman's rank correlation (average ranks for ties). */
  function spearman(x: number[], y: number[]): number {
    const ranks = (v: number[]): number[] => {
      const order = v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
      const r = new Array<number>(v.length);
      for (let i = 0; i < order.length; ) {
        let j = i;
        while (j + 1 < order.length && v[order[j + 1]] === v[order[i]]) j++;
        for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2;
        i = j + 1;
      }
      return r;
    };
    const rx = ranks(x), ry = ranks(y), n = x.length;
    const mx = rx.reduce((a, b) => a + b, 0) / n, my = ry.reduce((a, b) => a + b, 0) / n;
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) ** 2; syy += (ry[i] - my) ** 2;
    }
    return sxy / Math.sqrt(sxx * syy);
  }

  function bands(set: PairScore[], edges: number[]) {
    return edges.slice(0, -1).map((lo, i) => {
      const hi = edges[i + 1];
      const inBand = set.filter((p) => p.quality >= lo && p.quality < hi);
      const errors = inBand.filter((p) => p.error).length;
      const [ciLo, ciHi] = wilson(errors, inBand.length);
      const same = inBand.filter((p) => p.same), different = inBand.filter((p) => !p.same);
      const genuine = inBand.flatMap((p) => (p.genuine === undefined ? [] : [p.genuine]));
      // Genuine pairs (a faceless image counts) farther apart than the 1:N rule's threshold: a face the recognition rule would leave unnamed.
      const unnamed = same.filter((p) => p.genuine === undefined || p.genuine > DEFAULT_RULE.threshold).length;
      return {
        band: `${lo.toFixed(3)}-${Math.min(1, hi).toFixed(3)}`,
        pairs: inBand.length,
        errors,
        errorRate: inBand.length ? errors / inBand.length : null,
        ci95: [ciLo, ciHi],
        /** Genuine pairs rejected (or with a faceless image), of the band's genuine pairs. */
        falseRejects: `${same.filter((p) => p.error).length}/${same.length}`,
        /** Impostor pairs accepted (or with a faceless image), of the band's impostor pairs. */
        falseAccepts: `${different.filter((p) => p.error).length}/${different.length}`,
        meanGenuineDistance: genuine.length ? genuine.reduce((a, b) => a + b, 0) / genuine.length : null,
        /** Genuine pairs farther apart than the 1:N rule's threshold (DEFAULT_RULE), of the band's genuine pairs. */
        genuineOverRule: `${unnamed}/${same.length}`,
        genuineOverRuleRate: same.length ? unnamed / same.length : null,
        genuineOverRuleCi95: wilson(unnamed, same.length),
      };
    });
  }

  function part(set: PairScore[], edges: number[], folds: string) {
    const b = bands(set, edges);
    const genuine = set.filter((p) => p.genuine !== undefined);
    return {
      folds,
      pairs: set.length,
      errors: set.filter((p) => p.error).length,
      bands: b,
      errorRateFalls: falling(b.map((x) => x.errorRate)),
      genuineDistanceFalls: falling(b.map((x) => x.meanGenuineDistance)),
      genuineOverRuleFalls: falling(b.map((x) => x.genuineOverRuleRate)),
      /** Rank correlation of a genuine pair's lower score with its distance (negative: poorer pairs lie farther apart). */
      genuineSpearman: spearman(genuine.map((p) => p.quality), genuine.map((p) => p.genuine!)),
    };
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
  // Band edges at equal shares of the development pairs (terciles for 3 bands), applied to both halves.
  const edges = bandEdges(dev.map((p) => p.quality), bandCount);
  const report = {
    command: `npm run bench:quality -- ${process.argv.slice(2).join(' ')}`.trim(),
    data: `LFW View 2 (${lfw}), ${images.length} images in ${folds.flat().length} pairs; ${done.size} images measured`,
    threshold: DEFAULT_VERIFY_THRESHOLD,
    ruleThreshold: DEFAULT_RULE.threshold,
    dev: part(dev, edges, opts.dev),
    test: part(test, edges, `the other ${folds.length - ((devTo ?? devFrom) - devFrom + 1)}`),
    chosenOnDev: { minQuality: choose(dev, 0.05, 1.5), minEnrollQuality: choose(dev, 0.15, 1.25) },
  };

  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
    process.stdout.write(`${report.command}\n${report.data}\nverify threshold ${report.threshold}, 1:N rule threshold ${report.ruleThreshold}; ${bandCount} bands at equal shares of folds ${opts.dev}'s pairs\n`);
    for (const p of [report.dev, report.test]) {
      process.stdout.write(`\nfolds ${p.folds}: ${p.pairs} pairs, ${p.errors} errors (${pct(p.errors / Math.max(1, p.pairs))})\n| lower score of the pair | pairs | errors | error rate | 95% CI | false rejects | false accepts | mean genuine distance | genuine over the 1:N threshold |\n|---|---|---|---|---|---|---|---|---|\n`);
      for (const b of p.bands) process.stdout.write(`| ${b.band} | ${b.pairs} | ${b.errors} | ${pct(b.errorRate)} | ${pct(b.ci95[0])}-${pct(b.ci95[1])} | ${b.falseRejects} | ${b.falseAccepts} | ${b.meanGenuineDistance?.toFixed(3) ?? '-'} | ${b.genuineOverRule} (${pct(b.genuineOverRuleRate)}; ${pct(b.genuineOverRuleCi95[0])}-${pct(b.genuineOverRuleCi95[1])}) |\n`);
      process.stdout.write(`error rate falls band to band as the score rises: ${p.errorRateFalls ? 'yes' : 'no'}; mean genuine distance falls: ${p.genuineDistanceFalls ? 'yes' : 'no'}; genuine over the 1:N threshold falls: ${p.genuineOverRuleFalls ? 'yes' : 'no'}; Spearman (genuine pairs, score vs distance) ${p.genuineSpearman.toFixed(3)}\n`);
    }
    process.stdout.write(`\nchosen on folds ${opts.dev}: minQuality ${report.chosenOnDev.minQuality}, minEnrollQuality ${report.chosenOnDev.minEnrollQuality}\n`);
  }
}
