/**
 * LFW View 2 verification benchmark (not a test): 10 folds x 600 pairs from pairs.txt; each
 * fold is scored at the threshold that is best on the other folds. A pair where either image
 * has no detected face counts as an error, never dropped. Descriptors are cached per image
 * within the run (images repeat across pairs).
 *
 *   npm run bench:lfw -- [--folds 1,2] [--variant naive|fallback|aligned|mirror|mirror-norm|dlib-fit|refined|refined-j1|refined-j2]
 *                        [--pick center|largest] [--tf-backend auto|wasm|node] [--combine a+b] [--lfw DIR] [--json]
 *
 * `--pick center` (the default) takes the face nearest the image centre: LFW images are 250x250
 * crops centred on the person the pair names, so that is the face the protocol means. It is a
 * benchmark protocol choice; the engine still returns every face, largest first.
 *
 * `--variant` takes a comma list (or `all`): the variants then share detection and landmarks in
 * one pass (same descriptors as separate runs; images/s is then that of the combined pass).
 *
 * Long runs can be split across processes: `--shard 0/2 --save a.json` and `--shard 1/2
 * --save b.json` each describe half the images; `--load a.json,b.json` then scores the whole
 * set without recomputing (images/s is then the mean per-process rate of the shards).
 *
 * `--combine f32+f32-sp5` also scores each image's descriptors of those variants averaged (an
 * ensemble of alignments), from the same run or saves.
 *
 * `f32-mmod68` (bench-only, defined here) is dlib's own pipeline end to end: dlib's CNN face
 * detector (MMOD) on the image as it is, the face nearest the centre, dlib's 68-point shape
 * predictor started from that detector rectangle (the boxes it was trained on), then the same
 * chip, float32 weights and mirror averaging as `f32-sp68`. An image where the detector finds
 * nothing falls back to `f32-sp68` (our detection cascade and face-api's landmarks to place the
 * predictor); the run reports how many did, and the detector's time per image. `f32-mmod5` is the
 * same with dlib's 5-point predictor and 5-point chip (falling back to `f32-sp5`): dlib's notes
 * say that model was trained for both its HOG and its CNN detector's boxes, and it is the one
 * dlib's face recognition example uses.
 *
 * `ensemble` is `f32+f32-mmod5` as the service runs it: the engine's `dlib-ensemble` pipeline
 * (src/recognition/ensemble.ts). It differs from `--combine f32+f32-mmod5` only where the MMOD
 * detection nearest the centre is not the one that overlaps the centre face best.
 */
import fs from 'node:fs/promises';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { euclidean } from '../src/recognition/matcher.js';
import { combineDescriptors, computeDescriptors, DEFAULT_DESCRIBE } from '../src/recognition/describe.js';
import { rectToBox, shapesFromDetections } from '../src/recognition/ensemble.js';
import { decodeImage } from '../src/recognition/decode.js';
import { loadRuntime } from '../src/recognition/backend.js';
import { grayImage } from '../src/recognition/shape-predictor.js';
import type { AnalyzedImage, DetectedFace } from '../src/recognition/types.js';
import { accuracyAt, bestThreshold, crossValidate, lfwDirOrExit, meanStd, readPairs, type Scored } from './lib/lfw.js';
import { createAnalyzer, createMultiAnalyzer, VARIANTS as LIB_VARIANTS, type Variant as LibVariant } from './lib/variants.js';

/** Variants defined in this script rather than in ./lib/variants.ts (see the header). */
const LOCAL_VARIANTS = ['f32-mmod68', 'f32-mmod5'] as const;
const VARIANTS = [...LIB_VARIANTS, ...LOCAL_VARIANTS] as const;
type Variant = (typeof VARIANTS)[number];

const program = new Command()
  .option('--folds <list>', 'comma-separated fold numbers 1-10 (default: all)')
  .option('--variant <names>', `pipeline variant(s): ${VARIANTS.join(' | ')} | all, comma-separated`, 'refined')
  .option('--pick <how>', 'which face of a multi-face image: center (LFW protocol) | largest', 'center')
  .option('--tf-backend <name>', 'auto | wasm | node', 'auto')
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--shard <k/n>', 'describe only images k, k+n, k+2n... (then --save and score later with --load)')
  .option('--save <file>', 'write the descriptors (and timing) to this JSON file')
  .option('--load <files>', 'comma-separated --save files to reuse instead of recomputing')
  .option('--combine <recipes>', 'also score averaged descriptors of variants, e.g. f32+f32-sp5 (comma-separated; each named variant must be in --variant)')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse();
const opts = program.opts<{
  folds?: string; variant: string; pick: string; tfBackend: 'auto' | 'wasm' | 'node'; lfw?: string;
  shard?: string; save?: string; load?: string; combine?: string; json?: boolean;
}>();
const variants = (opts.variant === 'all' ? [...LIB_VARIANTS] : opts.variant.split(',').map((s) => s.trim())) as Variant[];
for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`unknown variant ${v}; use ${VARIANTS.join(', ')}`);
if (opts.pick !== 'largest' && opts.pick !== 'center') throw new Error('--pick is largest or center');

function pickFace(a: AnalyzedImage): DetectedFace | null {
  if (a.faces.length === 0) return null;
  if (opts.pick === 'center') {
    const d = (f: DetectedFace) => Math.hypot(f.box.x + f.box.width / 2 - a.width / 2, f.box.y + f.box.height / 2 - a.height / 2);
    return a.faces.reduce((best, f) => (d(f) < d(best) ? f : best));
  }
  return a.faces[0];
}

const all = await readPairs(lfwDirOrExit(opts.lfw));
const foldNumbers = opts.folds ? opts.folds.split(',').map((s) => Number(s.trim())) : all.map((_, i) => i + 1);
for (const f of foldNumbers) if (!Number.isInteger(f) || f < 1 || f > all.length) throw new Error(`no fold ${f}`);

const log = createLogger({ level: 'warn', name: 'bench-lfw' });
let backend = '';
const libVariants = variants.filter((v): v is LibVariant => (LIB_VARIANTS as readonly string[]).includes(v));
let analyzeLib: (image: Buffer) => Promise<Map<Variant, AnalyzedImage>> = async () => new Map();
if (libVariants.length === 1) {
  const one = await createAnalyzer({ variant: libVariants[0], tfBackend: opts.tfBackend, log });
  backend = one.backend;
  analyzeLib = async (image) => new Map([[libVariants[0], (await one.analyze(image)).analyzed]]);
} else if (libVariants.length > 1) {
  const multi = await createMultiAnalyzer({ variants: libVariants, tfBackend: opts.tfBackend, log });
  backend = multi.backend;
  analyzeLib = (image) => multi.analyze(image);
}

/** `f32-mmod*` bookkeeping: images without an MMOD detection, and the detector's time (this process's, then those of --load). */
const mmodStats = { images: 0, fallbacks: 0, detectMs: 0 };
const loadedMmodStats = { images: 0, fallbacks: 0, detectMs: 0 };
const mmodShapes = ([[68, 'f32-mmod68'], [5, 'f32-mmod5']] as const).filter(([, v]) => variants.includes(v));
const mmodAnalyzer = mmodShapes.length > 0 ? await createMmodAnalyzer(mmodShapes.map(([points]) => points)) : null;

/** One MMOD detection per image, then each requested predictor from its rectangles. */
async function createMmodAnalyzer(shapes: Array<5 | 68>): Promise<(image: Buffer) => Promise<Map<5 | 68, AnalyzedImage>>> {
  const rt = await loadRuntime({ tfBackend: opts.tfBackend, log });
  backend = rt.backend;
  const detector = await rt.mmodDetector();
  const predictors = new Map(await Promise.all(shapes.map(async (points) => [points, await rt.shapePredictor(points)] as const)));
  const fallbacks = new Map<5 | 68, Awaited<ReturnType<typeof createAnalyzer>>>();
  const describe = { ...DEFAULT_DESCRIBE, weights: 'dlib' as const };
  return async (image) => {
    const img = await decodeImage(image);
    const t0 = performance.now();
    const found = await detector.detect(img);
    mmodStats.detectMs += performance.now() - t0;
    mmodStats.images++;
    const out = new Map<5 | 68, AnalyzedImage>();
    if (found.length === 0) mmodStats.fallbacks++;
    const gray = grayImage(img);
    for (const [points, sp] of predictors) {
      if (found.length === 0) {
        if (!fallbacks.has(points)) fallbacks.set(points, await createAnalyzer({ variant: points === 5 ? 'f32-sp5' : 'f32-sp68', tfBackend: opts.tfBackend, log }));
        out.set(points, (await fallbacks.get(points)!.analyze(image)).analyzed);
        continue;
      }
      const landmarks = shapesFromDetections(sp, img, found, gray);
      const descriptors = await computeDescriptors(rt, img, landmarks, describe);
      const faces = found.map((d, i) => ({
        box: rectToBox(d.rect),
        score: d.confidence,
        descriptor: descriptors[i],
      }));
      faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
      out.set(points, { width: img.width, height: img.height, faces });
    }
    return out;
  };
}

async function analyze(image: Buffer): Promise<Map<Variant, AnalyzedImage>> {
  const out = await analyzeLib(image);
  if (mmodAnalyzer) for (const [points, analyzed] of await mmodAnalyzer(image)) out.set(points === 5 ? 'f32-mmod5' : 'f32-mmod68', analyzed);
  return out;
}

const allImages = [...new Set(foldNumbers.flatMap((f) => all[f - 1].flatMap((p) => [p.a, p.b])))];
const [shardK, shardN] = opts.shard ? opts.shard.split('/').map(Number) : [0, 1];
const cache = new Map<Variant, Map<string, Float32Array | null>>(variants.map((v) => [v, new Map()]));
const noFace = new Map<Variant, number>(variants.map((v) => [v, 0]));
interface Saved { seconds: number; images: number; backend: string; descriptors: Record<string, Record<string, number[] | null>>; mmod?: typeof mmodStats }
let loadedSeconds = 0, loadedImages = 0;
for (const file of opts.load ? opts.load.split(',') : []) {
  const saved = JSON.parse(await fs.readFile(file, 'utf8')) as Saved;
  loadedSeconds += saved.seconds;
  loadedImages += saved.images;
  if (saved.mmod && mmodShapes.length > 0) for (const k of ['images', 'fallbacks', 'detectMs'] as const) loadedMmodStats[k] += saved.mmod[k];
  for (const v of variants) {
    for (const [img, d] of Object.entries(saved.descriptors[v] ?? {})) {
      cache.get(v)!.set(img, d ? Float32Array.from(d) : null);
      if (!d) noFace.set(v, noFace.get(v)! + 1);
    }
  }
}
const images = allImages.filter((f, i) => i % shardN === shardK && variants.some((v) => !cache.get(v)!.has(f)));
const t0 = performance.now();
for (const [i, file] of images.entries()) {
  const byVariant = await analyze(await fs.readFile(file));
  for (const v of variants) {
    const face = pickFace(byVariant.get(v)!);
    if (!face) noFace.set(v, noFace.get(v)! + 1);
    cache.get(v)!.set(file, face ? face.descriptor : null);
  }
  if (i % 25 === 0 || i === images.length - 1) {
    const rate = (i + 1) / ((performance.now() - t0) / 1000);
    process.stderr.write(`\r${i + 1}/${images.length} images, ${rate.toFixed(1)}/s, without a face: ${variants.map((v) => `${v} ${noFace.get(v)}`).join(', ')}   `);
  }
}
process.stderr.write('\n');
const seconds = (performance.now() - t0) / 1000;
const imagesPerSecond = (images.length + loadedImages) / (seconds + loadedSeconds);
if (opts.save) {
  const descriptors: Saved['descriptors'] = {};
  for (const v of variants) descriptors[v] = Object.fromEntries(images.map((f) => [f, cache.get(v)!.get(f) ? Array.from(cache.get(v)!.get(f)!) : null]));
  await fs.writeFile(opts.save, JSON.stringify({ seconds, images: images.length, backend, descriptors, ...(mmodAnalyzer ? { mmod: mmodStats } : {}) } satisfies Saved));
}
const mmodLine = (): string => {
  const images = mmodStats.images + loadedMmodStats.images, fallbacks = mmodStats.fallbacks + loadedMmodStats.fallbacks;
  const ms = (mmodStats.detectMs + loadedMmodStats.detectMs) / Math.max(1, images);
  return `f32-mmod*: ${fallbacks} of ${images} images without an MMOD detection (fell back to f32-sp68 / f32-sp5); MMOD detection ${ms.toFixed(1)} ms/image`;
};
const anyMmod = (): boolean => mmodStats.images + loadedMmodStats.images > 0;
if (shardN > 1) {
  if (anyMmod()) console.log(mmodLine());
  console.log(`shard ${shardK}/${shardN}: described ${images.length} images in ${seconds.toFixed(0)} s (${(images.length / seconds).toFixed(1)}/s)${opts.save ? `, saved to ${opts.save}` : ''}; score with --load`);
  process.exit(0);
}

// `--combine a+b`: each image's descriptor is the mean of the variants' (none if any has none).
for (const recipe of opts.combine ? opts.combine.split(',') : []) {
  const parts = recipe.split('+') as Variant[];
  for (const v of parts) if (!cache.has(v)) throw new Error(`--combine ${recipe}: ${v} is not among --variant`);
  const combined = new Map<string, Float32Array | null>();
  let missing = 0;
  for (const img of allImages) {
    const ds = parts.map((v) => cache.get(v)!.get(img) ?? null);
    if (ds.some((d) => !d)) missing++;
    combined.set(img, ds.some((d) => !d) ? null : combineDescriptors(ds as Float32Array[], false));
  }
  cache.set(recipe as Variant, combined);
  noFace.set(recipe as Variant, missing);
  variants.push(recipe as Variant);
}

const summaries = variants.map((variant) => {
  const scored = new Map<number, Scored[]>();
  for (const f of foldNumbers) {
    const c = cache.get(variant)!;
    scored.set(f, all[f - 1].map((p) => {
      const a = c.get(p.a), b = c.get(p.b);
      return { same: p.same, distance: a && b ? euclidean(a, b) : null };
    }));
  }
  const results = crossValidate(scored);
  const { mean, std } = meanStd(results.map((r) => r.accuracy));
  const noFacePairs = [...scored.values()].flat().filter((p) => p.distance === null).length;
  for (const r of results) {
    // The in-fold best threshold is optimistic (chosen on the test pairs); shown only to compare variants on one fold.
    const own = scored.get(r.fold) ?? [];
    const t = bestThreshold(own);
    console.log(`${variant} fold ${r.fold}: threshold ${r.threshold.toFixed(4)} accuracy ${(r.accuracy * 100).toFixed(2)}% (in-fold best ${t.toFixed(4)}: ${(accuracyAt(own, t) * 100).toFixed(2)}%)`);
  }
  console.log(
    `variant ${variant}, pick ${opts.pick}, backend ${backend}: ` +
      `mean accuracy ${(mean * 100).toFixed(2)}% ± ${(std * 100).toFixed(2)} over ${results.length} fold(s)` +
      `${results.length === 1 ? ' (single fold: threshold fixed at 0.6)' : ''}; ` +
      `${noFace.get(variant)} of ${allImages.length} images without a face (${noFacePairs} pairs counted as errors)`,
  );
  return { variant, accuracy: mean, std, noFace: noFace.get(variant)!, perFold: results };
});
if (anyMmod()) console.log(mmodLine());
const described = images.length + loadedImages;
console.log(`${allImages.length} images (${described} described in ${(seconds + loadedSeconds).toFixed(0)} s of process time): ${imagesPerSecond.toFixed(1)} images/s per process (${(1000 / imagesPerSecond).toFixed(0)} ms/image${variants.length > 1 ? ', all variants together' : ''}), backend ${backend}`);
if (opts.json) {
  const first = summaries[0];
  console.log(JSON.stringify({ accuracy: first.accuracy, std: first.std, folds: foldNumbers, noFace: first.noFace, imagesPerSecond, backend, variant: first.variant, variants: summaries }));
}
