/**
 * Engine throughput benchmark (not a test): milliseconds per stage (decode, detect, landmarks,
 * descriptor) and images/s, per detection strategy and engine backend, on LFW images (250x250,
 * one face each), the bbt group shots (1366x768) and face-api's demo photos (1920 px wide,
 * several faces). Also measures `probeImage` (the web tier's upload check) on the CSE546 crops.
 *
 *   npm run bench:engine -- [--lfw-images 100] [--lfw DIR] [--runs 2] [--detectors cascade,tiny-320,ssd]
 *                           [--variant refined] [--tf-backend auto] [--backends ort,wasm] [--sets lfw,bbt,demo] [--json]
 *
 * With several `--backends`, every backend runs in this one process on the same images: each
 * set is analysed once per backend to warm up, then the timed runs alternate between backends
 * (so a change in machine load hits both), and the first timed run's faces are compared
 * between the first backend and each other one (face counts, box and descriptor differences).
 * The numbers are averages over all timed runs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { probeImage } from '../src/recognition/decode.js';
import type { StageTimings } from '../src/recognition/engine.js';
import { euclidean } from '../src/recognition/matcher.js';
import { ENGINE_BACKENDS, type EngineBackendChoice } from '../src/recognition/ort/engine-backend.js';
import type { AnalyzedImage } from '../src/recognition/types.js';
import { distinctCse546, loadCse546 } from './lib/cse546.js';
import { lfwDirOrExit, readPairs } from './lib/lfw.js';
import { createAnalyzer, DETECTORS, VARIANTS, type Analyzer, type Variant } from './lib/variants.js';

const program = new Command()
  .option('--lfw-images <n>', 'LFW images (the first of fold 1)', '100')
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--runs <n>', 'timed runs over each image set', '2')
  .option('--detectors <list>', `detection strategies: ${Object.keys(DETECTORS).join(', ')}`, Object.keys(DETECTORS).join(','))
  .option('--variant <name>', `descriptor pipeline: ${VARIANTS.join(' | ')}`, 'refined')
  .option('--tf-backend <name>', 'auto | wasm | node', 'auto')
  .option('--backends <list>', `engine backends, run side by side: ${ENGINE_BACKENDS.join(', ')}`, 'wasm')
  .option('--sets <list>', 'image sets: lfw, bbt, demo', 'lfw,bbt,demo')
  .option('--no-probe', 'skip the probeImage measurement')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse();
const opts = program.opts<{ lfwImages: string; lfw?: string; runs: string; detectors: string; variant: string; tfBackend: 'auto' | 'wasm' | 'node'; backends: string; sets: string; probe: boolean; json?: boolean }>();
const runs = Number(opts.runs);
const backends = opts.backends.split(',') as EngineBackendChoice[];
for (const b of backends) if (!ENGINE_BACKENDS.includes(b)) throw new Error(`unknown backend ${b}; use ${ENGINE_BACKENDS.join(', ')}`);

const wanted = new Set(opts.sets.split(','));
const demoDir = path.resolve('node_modules', '@vladmandic', 'face-api', 'demo');
const sets: Array<{ name: string; images: Buffer[] }> = [];
if (wanted.has('lfw')) {
  const pairs = await readPairs(lfwDirOrExit(opts.lfw));
  const lfwFiles = [...new Set(pairs[0].flatMap((p) => [p.a, p.b]))].slice(0, Number(opts.lfwImages));
  sets.push({ name: `lfw (${lfwFiles.length} images, 250x250)`, images: await Promise.all(lfwFiles.map((f) => fs.readFile(f))) });
}
if (wanted.has('bbt')) {
  const files = [1, 2, 3, 4, 5].map((n) => path.resolve('examples', 'bbt', `bbt${n}.jpg`));
  sets.push({ name: `bbt group shots (${files.length} images, 1366x768)`, images: await Promise.all(files.map((f) => fs.readFile(f))) });
}
if (wanted.has('demo')) {
  const files = [1, 2, 3, 4, 5, 6].map((n) => path.join(demoDir, `sample${n}.jpg`));
  sets.push({ name: `demo samples (${files.length} images, 1920 px wide)`, images: await Promise.all(files.map((f) => fs.readFile(f))) });
}

interface Agreement {
  /** Compared against this backend's faces. */
  against: string;
  images: number;
  faces: number;
  /** Images whose face counts differ (their faces are not compared). */
  countMismatches: number;
  maxDescriptorL2: number;
  meanDescriptorL2: number;
  /** Largest difference of any box coordinate, px. */
  maxBoxPx: number;
}
interface Row {
  set: string;
  images: number;
  runs: number;
  detector: string;
  variant: string;
  backend: string;
  imagesPerSecond: number;
  /**
   * Process CPU (user + system, all threads: sharp decodes on libuv's pool) per image over the
   * timed runs. On a machine shared with other work, wall time stretches with the load; this
   * does far less, so it is the steadier figure for comparing backends.
   */
  cpuMsPerImage: number;
  facesPerImage: number;
  msPerStage: StageTimings;
  agreement?: Agreement;
}

function compare(base: AnalyzedImage[], other: AnalyzedImage[], against: string): Agreement {
  const a: Agreement = { against, images: base.length, faces: 0, countMismatches: 0, maxDescriptorL2: 0, meanDescriptorL2: 0, maxBoxPx: 0 };
  let sum = 0;
  base.forEach((x, i) => {
    const y = other[i];
    if (x.faces.length !== y.faces.length) return void a.countMismatches++;
    x.faces.forEach((f, k) => {
      const g = y.faces[k];
      const d = euclidean(f.descriptor, g.descriptor);
      sum += d;
      a.faces++;
      a.maxDescriptorL2 = Math.max(a.maxDescriptorL2, d);
      for (const key of ['x', 'y', 'width', 'height'] as const) a.maxBoxPx = Math.max(a.maxBoxPx, Math.abs(f.box[key] - g.box[key]));
    });
  });
  a.meanDescriptorL2 = a.faces ? sum / a.faces : 0;
  return a;
}

const stages = ['decode', 'detect', 'landmarks', 'descriptor', 'quality'] as const;
const rows: Row[] = [];
const log = createLogger({ level: 'warn', name: 'bench-engine' });
for (const detector of opts.detectors.split(',')) {
  const analyzers: Analyzer[] = [];
  for (const engineBackend of backends) analyzers.push(await createAnalyzer({ variant: opts.variant as Variant, detector, tfBackend: opts.tfBackend, engineBackend, log }));
  for (const set of sets) {
    for (const analyzer of analyzers) for (const img of set.images) await analyzer.analyze(img);
    const totals = analyzers.map(() => ({ stages: { decode: 0, detect: 0, landmarks: 0, descriptor: 0, quality: 0 } as StageTimings, faces: 0, ms: 0, cpuMs: 0 }));
    const firstRun: AnalyzedImage[][] = analyzers.map(() => []);
    for (let r = 0; r < runs; r++) {
      for (let b = 0; b < analyzers.length; b++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        for (const img of set.images) {
          const { analyzed, timings } = await analyzers[b].analyze(img);
          totals[b].faces += analyzed.faces.length;
          for (const k of stages) totals[b].stages[k] += timings[k];
          if (r === 0) firstRun[b].push(analyzed);
        }
        totals[b].ms += performance.now() - t0;
        const cpu = process.cpuUsage(c0);
        totals[b].cpuMs += (cpu.user + cpu.system) / 1000;
      }
    }
    const n = set.images.length * runs;
    analyzers.forEach((analyzer, b) => {
      const msPerStage = Object.fromEntries(stages.map((k) => [k, Math.round((totals[b].stages[k] / n) * 10) / 10])) as unknown as StageTimings;
      const row: Row = { set: set.name, images: set.images.length, runs, detector: analyzer.detector, variant: opts.variant, backend: analyzer.backend, imagesPerSecond: n / (totals[b].ms / 1000), cpuMsPerImage: Math.round((totals[b].cpuMs / n) * 10) / 10, facesPerImage: totals[b].faces / n, msPerStage };
      if (b > 0) row.agreement = compare(firstRun[0], firstRun[b], analyzers[0].backend);
      rows.push(row);
      console.log(
        `${row.set}, detector ${row.detector}, variant ${row.variant}, backend ${row.backend}: ${row.imagesPerSecond.toFixed(2)} images/s, ${row.cpuMsPerImage} CPU ms/image, ` +
          `${row.facesPerImage.toFixed(2)} faces/image; ms/image decode ${msPerStage.decode} detect ${msPerStage.detect} landmarks ${msPerStage.landmarks} descriptor ${msPerStage.descriptor}`,
      );
      if (row.agreement) {
        const a = row.agreement;
        console.log(`  against ${a.against}: ${a.faces} faces compared, ${a.countMismatches} images with other face counts, descriptor L2 max ${a.maxDescriptorL2.toExponential(2)} mean ${a.meanDescriptorL2.toExponential(2)}, box max ${a.maxBoxPx.toFixed(3)} px`);
        const base = rows[rows.length - 1 - b];
        const ratio = (x: number, y: number) => (y > 0 ? (x / y).toFixed(2) : '-');
        console.log(`  ${row.backend}/${base.backend}: ${ratio(row.imagesPerSecond, base.imagesPerSecond)}x images/s, CPU per image ${base.backend}/${row.backend} ${ratio(base.cpuMsPerImage, row.cpuMsPerImage)}x; per stage (time ${base.backend}/${row.backend}) ${stages.map((k) => `${k} ${ratio(base.msPerStage[k], row.msPerStage[k])}x`).join(', ')}`);
      }
    });
  }
}

let probe: { images: number; runs: number; imagesPerSecond: number } | undefined;
if (opts.probe) {
  // The web tier's upload check, on the 64x64 load-test crops: single process, sequential.
  const crops = (await loadCse546()).map((c) => c.buffer);
  for (const c of (await distinctCse546()).map((d) => d.buffer)) await probeImage(c);
  const p0 = performance.now();
  for (let r = 0; r < runs; r++) for (const c of crops) await probeImage(c);
  probe = { images: crops.length, runs, imagesPerSecond: (crops.length * runs) / ((performance.now() - p0) / 1000) };
  console.log(`probeImage on ${crops.length} CSE546 64x64 JPEGs x ${runs} runs: ${probe.imagesPerSecond.toFixed(0)} images/s in one process`);
}

if (opts.json) console.log(JSON.stringify({ rows, probe }));
