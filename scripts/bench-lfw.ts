/**
 * LFW View 2 verification benchmark (not a test): 10 folds x 600 pairs from pairs.txt; each
 * fold is scored at the threshold that is best on the other folds. A pair where either image
 * has no detected face counts as an error, never dropped. Descriptors are cached per image
 * within the run (images repeat across pairs).
 *
 *   npm run bench:lfw -- [--folds 1,2] [--variant naive|fallback|aligned|mirror|mirror-norm]
 *                        [--pick largest|center] [--tf-backend auto|wasm|node] [--json]
 */
import fs from 'node:fs/promises';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { euclidean } from '../src/recognition/matcher.js';
import type { AnalyzedImage, DetectedFace } from '../src/recognition/types.js';
import { accuracyAt, bestThreshold, crossValidate, lfwDir, meanStd, readPairs, type Scored } from './lib/lfw.js';
import { createAnalyzer, VARIANTS, type Variant } from './lib/variants.js';

const program = new Command()
  .option('--folds <list>', 'comma-separated fold numbers 1-10 (default: all)')
  .option('--variant <name>', `pipeline variant: ${VARIANTS.join(' | ')}`, 'mirror')
  .option('--pick <how>', 'which face of a multi-face image: largest | center', 'largest')
  .option('--tf-backend <name>', 'auto | wasm | node', 'auto')
  .option('--data <dir>', 'LFW folder', lfwDir())
  .option('--json', 'last line of stdout is a JSON summary')
  .parse();
const opts = program.opts<{ folds?: string; variant: string; pick: string; tfBackend: 'auto' | 'wasm' | 'node'; data: string; json?: boolean }>();
if (!(VARIANTS as readonly string[]).includes(opts.variant)) throw new Error(`unknown variant ${opts.variant}`);

function pickFace(a: AnalyzedImage): DetectedFace | null {
  if (a.faces.length === 0) return null;
  if (opts.pick === 'center') {
    const d = (f: DetectedFace) => Math.hypot(f.box.x + f.box.width / 2 - a.width / 2, f.box.y + f.box.height / 2 - a.height / 2);
    return a.faces.reduce((best, f) => (d(f) < d(best) ? f : best));
  }
  return a.faces[0];
}

const all = await readPairs(opts.data);
const foldNumbers = opts.folds ? opts.folds.split(',').map((s) => Number(s.trim())) : all.map((_, i) => i + 1);
for (const f of foldNumbers) if (!Number.isInteger(f) || f < 1 || f > all.length) throw new Error(`no fold ${f}`);

const analyzer = await createAnalyzer({ variant: opts.variant as Variant, tfBackend: opts.tfBackend, log: createLogger({ level: 'warn', name: 'bench-lfw' }) });
const images = [...new Set(foldNumbers.flatMap((f) => all[f - 1].flatMap((p) => [p.a, p.b])))];
const cache = new Map<string, Float32Array | null>();
let noFace = 0;
const t0 = performance.now();
for (const [i, file] of images.entries()) {
  const { analyzed } = await analyzer.analyze(await fs.readFile(file));
  const face = pickFace(analyzed);
  if (!face) noFace++;
  cache.set(file, face ? face.descriptor : null);
  if (i % 25 === 0 || i === images.length - 1) {
    const rate = (i + 1) / ((performance.now() - t0) / 1000);
    process.stderr.write(`\r${i + 1}/${images.length} images, ${rate.toFixed(1)}/s, ${noFace} without a face   `);
  }
}
process.stderr.write('\n');
const seconds = (performance.now() - t0) / 1000;

const scored = new Map<number, Scored[]>();
for (const f of foldNumbers) {
  scored.set(
    f,
    all[f - 1].map((p) => {
      const a = cache.get(p.a), b = cache.get(p.b);
      return { same: p.same, distance: a && b ? euclidean(a, b) : null };
    }),
  );
}
const results = crossValidate(scored);
const { mean, std } = meanStd(results.map((r) => r.accuracy));
const noFacePairs = [...scored.values()].flat().filter((p) => p.distance === null).length;
const imagesPerSecond = images.length / seconds;
for (const r of results) {
  // The in-fold best threshold is optimistic (chosen on the test pairs); shown only to compare variants on one fold.
  const own = scored.get(r.fold) ?? [];
  const t = bestThreshold(own);
  console.log(`fold ${r.fold}: threshold ${r.threshold.toFixed(4)} accuracy ${(r.accuracy * 100).toFixed(2)}% (in-fold best ${t.toFixed(4)}: ${(accuracyAt(own, t) * 100).toFixed(2)}%)`);
}
console.log(
  `variant ${opts.variant}, pick ${opts.pick}, backend ${analyzer.backend}, detector ${analyzer.detector}: ` +
    `mean accuracy ${(mean * 100).toFixed(2)}% ± ${(std * 100).toFixed(2)} over ${results.length} fold(s)` +
    `${results.length === 1 ? ' (single fold: threshold fixed at 0.6)' : ''}; ` +
    `${noFace} of ${images.length} images without a face (${noFacePairs} pairs counted as errors); ` +
    `${imagesPerSecond.toFixed(1)} images/s (${((seconds * 1000) / images.length).toFixed(0)} ms/image)`,
);
if (opts.json) {
  console.log(JSON.stringify({ accuracy: mean, std, folds: results.map((r) => r.fold), noFace, imagesPerSecond, backend: analyzer.backend, variant: opts.variant, perFold: results }));
}
