/**
 * Engine throughput benchmark (not a test): milliseconds per stage (decode, detect, landmarks,
 * descriptor) and images/s, per detection strategy, on LFW images (250x250, one face each) and
 * on face-api's large demo photos (about 1920x1400, several faces). Also measures
 * `probeImage` (the web tier's upload check) on the CSE546 64x64 crops.
 *
 *   npm run bench:engine -- [--lfw-images 100] [--runs 2] [--detectors cascade,tiny-320,ssd] [--lfw DIR]
 *                           [--variant refined] [--tf-backend auto] [--json]
 *
 * Every image set is analysed once to warm up (wasm kernels, caches), then `--runs` times
 * timed; the numbers are averages over all timed runs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { probeImage } from '../src/recognition/decode.js';
import type { StageTimings } from '../src/recognition/engine.js';
import { distinctCse546, loadCse546 } from '../test/helpers/cse546.js';
import { lfwDirOrExit, readPairs } from './lib/lfw.js';
import { createAnalyzer, DETECTORS, VARIANTS, type Variant } from './lib/variants.js';

const program = new Command()
  .option('--lfw-images <n>', 'LFW images (the first of fold 1)', '100')
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--runs <n>', 'timed runs over each image set', '2')
  .option('--detectors <list>', `detection strategies: ${Object.keys(DETECTORS).join(', ')}`, Object.keys(DETECTORS).join(','))
  .option('--variant <name>', `descriptor pipeline: ${VARIANTS.join(' | ')}`, 'refined')
  .option('--tf-backend <name>', 'auto | wasm | node', 'auto')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse();
const opts = program.opts<{ lfwImages: string; lfw?: string; runs: string; detectors: string; variant: string; tfBackend: 'auto' | 'wasm' | 'node'; json?: boolean }>();
const runs = Number(opts.runs);

const pairs = await readPairs(lfwDirOrExit(opts.lfw));
const lfwFiles = [...new Set(pairs[0].flatMap((p) => [p.a, p.b]))].slice(0, Number(opts.lfwImages));
const demoDir = path.resolve('node_modules', '@vladmandic', 'face-api', 'demo');
const demoFiles = [1, 2, 3, 4, 5, 6].map((n) => path.join(demoDir, `sample${n}.jpg`));
const sets = [
  { name: `lfw (${lfwFiles.length} images, 250x250)`, images: await Promise.all(lfwFiles.map((f) => fs.readFile(f))) },
  { name: `demo samples (${demoFiles.length} images, ~1920x1400)`, images: await Promise.all(demoFiles.map((f) => fs.readFile(f))) },
];

interface Row {
  set: string;
  images: number;
  runs: number;
  detector: string;
  variant: string;
  backend: string;
  imagesPerSecond: number;
  facesPerImage: number;
  msPerStage: StageTimings;
}
const rows: Row[] = [];
const log = createLogger({ level: 'warn', name: 'bench-engine' });
for (const detector of opts.detectors.split(',')) {
  const analyzer = await createAnalyzer({ variant: opts.variant as Variant, detector, tfBackend: opts.tfBackend, log });
  for (const set of sets) {
    for (const img of set.images) await analyzer.analyze(img);
    const total: StageTimings = { decode: 0, detect: 0, landmarks: 0, descriptor: 0 };
    let faces = 0;
    const t0 = performance.now();
    for (let r = 0; r < runs; r++) {
      for (const img of set.images) {
        const { analyzed, timings } = await analyzer.analyze(img);
        faces += analyzed.faces.length;
        for (const k of Object.keys(total) as Array<keyof StageTimings>) total[k] += timings[k];
      }
    }
    const n = set.images.length * runs;
    const seconds = (performance.now() - t0) / 1000;
    const msPerStage = Object.fromEntries(Object.entries(total).map(([k, v]) => [k, Math.round((v / n) * 10) / 10])) as unknown as StageTimings;
    const row: Row = { set: set.name, images: set.images.length, runs, detector: analyzer.detector, variant: opts.variant, backend: analyzer.backend, imagesPerSecond: n / seconds, facesPerImage: faces / n, msPerStage };
    rows.push(row);
    console.log(
      `${row.set}, detector ${row.detector}, variant ${row.variant}, backend ${row.backend}: ${row.imagesPerSecond.toFixed(2)} images/s, ` +
        `${row.facesPerImage.toFixed(2)} faces/image; ms/image decode ${msPerStage.decode} detect ${msPerStage.detect} landmarks ${msPerStage.landmarks} descriptor ${msPerStage.descriptor}`,
    );
  }
}

// The web tier's upload check, on the 64x64 load-test crops: single process, sequential.
const crops = (await loadCse546()).map((c) => c.buffer);
for (const c of (await distinctCse546()).map((d) => d.buffer)) await probeImage(c);
const p0 = performance.now();
for (let r = 0; r < runs; r++) for (const c of crops) await probeImage(c);
const probePerSecond = (crops.length * runs) / ((performance.now() - p0) / 1000);
console.log(`probeImage on ${crops.length} CSE546 64x64 JPEGs x ${runs} runs: ${probePerSecond.toFixed(0)} images/s in one process`);

if (opts.json) {
  console.log(JSON.stringify({ rows, probe: { images: crops.length, runs, imagesPerSecond: probePerSecond } }));
}
