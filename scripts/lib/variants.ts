/**
 * Pipeline variants for the benchmarks, each one step more than the last, so every step's
 * gain and cost can be measured on its own:
 * - naive: face-api's stock path (tiny detector at 320, its own landmarks and descriptor crop).
 * - fallback: our detection cascade (no image left without a face) + face-api-style box crop.
 * - aligned: + dlib alignment (similarity transform onto the mean face, 150x150, padding 0.25).
 * - mirror: + average with the mirrored chip's descriptor (the default until 2026-11-26).
 * - mirror-norm: + L2 normalisation of the averaged descriptor.
 * - dlib-fit: mirror, fitting dlib's landmark subset (no eyebrows, no lower lip) instead of 17-67.
 * - refined: + a second landmark pass on a square around the first pass's landmarks (the
 *   engine's default).
 * - refined-j1, refined-j2: + test-time jitter (dlib's num_jitters): also average 1 or 2
 *   perturbed chips, each with its mirror (measured, not adopted: docs/recognition.md).
 * - f32-sp5, f32-sp68, f32-sp68x2: f32, aligned on the landmarks of dlib's 5-point shape
 *   predictor (1 round) or 68-point one (1 or 2 rounds), started from face-api's (see
 *   dlibLandmarks). The 68-point model's training data excludes commercial use.
 * - f32: refined, with dlib's own float32 weights for the descriptor net instead of face-api's
 *   8-bit quantised copy. Every variant above uses face-api's weights, as they were measured.
 * - ensemble: the engine's `dlib-ensemble` pipeline (f32's descriptor averaged with one from
 *   dlib's CNN detector and 5-point predictor, src/recognition/ensemble.ts), run as the service
 *   runs it.
 */
import type { EngineBackendChoice } from '../../src/recognition/ort/engine-backend.js';
import type { Logger } from '../../src/log.js';
import { loadEngine, type LoadedEngine, type StageTimings } from '../../src/recognition/engine.js';
import { DEFAULT_STRATEGY, detectFaces, NAIVE_STRATEGY, SSD_STRATEGY, type DetectionStrategy } from '../../src/recognition/detect.js';
import { combineDescriptors, DEFAULT_REFINE_MARGIN, describeChips, dlibLandmarks, detectLandmarks, faceChipTransform, landmarkBox, type DescribeOptions } from '../../src/recognition/describe.js';
import { CHIP_SIZE, chipJitters, jitterTransform, mirror, warpAffine, type Point } from '../../src/recognition/align.js';
import type { RecognitionWeights, TfBackendChoice } from '../../src/recognition/backend.js';
import type { AnalyzedImage } from '../../src/recognition/types.js';
import { decodeImage } from '../../src/recognition/decode.js';

export const VARIANTS = ['naive', 'fallback', 'aligned', 'mirror', 'mirror-norm', 'dlib-fit', 'refined', 'refined-j1', 'refined-j2', 'f32', 'f32-sp5', 'f32-sp68', 'f32-sp68x2', 'ensemble'] as const;
export type Variant = (typeof VARIANTS)[number];
/** Variants that are a set of describe options on the standard pipeline (shareable in one pass). */
type DescribeVariant = Exclude<Variant, 'naive' | 'ensemble'>;

export const DETECTORS: Record<string, DetectionStrategy> = {
  cascade: DEFAULT_STRATEGY,
  'tiny-320': NAIVE_STRATEGY,
  ssd: SSD_STRATEGY,
};

export interface Analyzer {
  backend: string;
  detector: string;
  analyze(image: Buffer): Promise<{ analyzed: AnalyzedImage; timings: StageTimings }>;
}

const DESCRIBE: Record<DescribeVariant, DescribeOptions> = {
  fallback: { align: 'box', subset: 'all51', refine: null, mirror: false, normalize: false, jitter: 0, weights: 'face-api', dlibShape: null },
  aligned: { align: 'dlib', subset: 'all51', refine: null, mirror: false, normalize: false, jitter: 0, weights: 'face-api', dlibShape: null },
  mirror: { align: 'dlib', subset: 'all51', refine: null, mirror: true, normalize: false, jitter: 0, weights: 'face-api', dlibShape: null },
  'mirror-norm': { align: 'dlib', subset: 'all51', refine: null, mirror: true, normalize: true, jitter: 0, weights: 'face-api', dlibShape: null },
  'dlib-fit': { align: 'dlib', subset: 'dlib', refine: null, mirror: true, normalize: false, jitter: 0, weights: 'face-api', dlibShape: null },
  refined: { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 0, weights: 'face-api', dlibShape: null },
  'refined-j1': { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 1, weights: 'face-api', dlibShape: null },
  'refined-j2': { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 2, weights: 'face-api', dlibShape: null },
  f32: { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 0, weights: 'dlib', dlibShape: null },
  'f32-sp5': { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 0, weights: 'dlib', dlibShape: { points: 5, rounds: 1 } },
  'f32-sp68': { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 0, weights: 'dlib', dlibShape: { points: 68, rounds: 1 } },
  'f32-sp68x2': { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 0, weights: 'dlib', dlibShape: { points: 68, rounds: 2 } },
};

/** face-api's own high-level pipeline, timed as one `detect` stage after decode. */
function naiveAnalyzer(engine: LoadedEngine): Analyzer {
  const { faceapi, tf } = engine.runtime;
  return {
    backend: engine.backend,
    detector: 'faceapi-tiny-320',
    async analyze(image) {
      const t0 = performance.now();
      const img = await decodeImage(image);
      const t1 = performance.now();
      const input = tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
      try {
        const found = await faceapi
          .detectAllFaces(input as never, new faceapi.TinyFaceDetectorOptions({ inputSize: 320, scoreThreshold: 0.5 }))
          .withFaceLandmarks()
          .withFaceDescriptors();
        const t2 = performance.now();
        const faces = found
          .map((f) => ({ box: { x: f.detection.box.x, y: f.detection.box.y, width: f.detection.box.width, height: f.detection.box.height }, score: f.detection.score, descriptor: f.descriptor }))
          .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
        return { analyzed: { width: img.width, height: img.height, faces }, timings: { decode: t1 - t0, detect: t2 - t1, landmarks: 0, descriptor: 0, quality: 0 } };
      } finally {
        input.dispose();
      }
    },
  };
}

export async function createAnalyzer(options: { variant: Variant; detector?: string; tfBackend?: TfBackendChoice; engineBackend?: EngineBackendChoice; log?: Logger }): Promise<Analyzer> {
  const strategy = DETECTORS[options.detector ?? 'cascade'];
  if (!strategy) throw new Error(`unknown detector ${options.detector}; use one of ${Object.keys(DETECTORS).join(', ')}`);
  const engine = await loadEngine({
    tfBackend: options.tfBackend,
    engineBackend: options.engineBackend,
    log: options.log,
    strategy,
    describe: options.variant === 'naive' || options.variant === 'ensemble' ? undefined : DESCRIBE[options.variant],
    pipeline: options.variant === 'ensemble' ? 'dlib-ensemble' : 'standard',
  });
  if (options.variant === 'naive') return naiveAnalyzer(engine);
  return {
    backend: engine.backend,
    detector: engine.detector,
    analyze: async (image) => {
      const r = await engine.analyzeTimed(image);
      return { analyzed: r.analyzed, timings: r.timings };
    },
  };
}

/**
 * Several variants from one pass over an image: detection and landmarks run once, then every
 * distinct chip the variants need goes through the descriptor net in one batch. The descriptors
 * are exactly those each variant computes alone; only the timing is shared. `naive` and
 * `ensemble` are whole pipelines of their own and run separately.
 */
export async function createMultiAnalyzer(options: { variants: Variant[]; tfBackend?: TfBackendChoice; log?: Logger }) {
  const engine = await loadEngine({ tfBackend: options.tfBackend, log: options.log, strategy: DEFAULT_STRATEGY });
  const rt = engine.runtime;
  const naive = options.variants.includes('naive') ? naiveAnalyzer(engine) : null;
  const ensemble = options.variants.includes('ensemble') ? await loadEngine({ tfBackend: options.tfBackend, log: options.log, pipeline: 'dlib-ensemble' }) : null;
  const shared = options.variants.filter((v): v is DescribeVariant => v !== 'naive' && v !== 'ensemble');
  return {
    backend: engine.backend,
    async analyze(image: Buffer): Promise<Map<Variant, AnalyzedImage>> {
      const out = new Map<Variant, AnalyzedImage>();
      if (naive) out.set('naive', (await naive.analyze(image)).analyzed);
      if (ensemble) out.set('ensemble', await ensemble.analyze(image));
      if (shared.length === 0) return out;
      const img = await decodeImage(image);
      const pixels = rt.tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
      let detections;
      try {
        detections = await detectFaces(rt, img, pixels, DEFAULT_STRATEGY);
      } finally {
        pixels.dispose();
      }
      const landmarks = await detectLandmarks(rt, img, detections.map((d) => d.box));
      const refined = shared.some((v) => DESCRIBE[v].refine !== null)
        ? await detectLandmarks(rt, img, landmarks.map((l) => landmarkBox(l, DEFAULT_REFINE_MARGIN)))
        : [];
      const byShape = new Map<string, Point[][]>();
      for (const v of shared) {
        const shape = DESCRIBE[v].dlibShape;
        if (shape && !byShape.has(JSON.stringify(shape))) byShape.set(JSON.stringify(shape), await dlibLandmarks(rt, img, refined, shape));
      }
      // One batch for every distinct chip: variants that differ only after the net (mirror-norm) share chips.
      const keys: string[] = [];
      const chips: Float32Array[] = [];
      const jitters = chipJitters(Math.max(...shared.map((v) => DESCRIBE[v].jitter)));
      const chipIndex = (face: number, o: DescribeOptions, jitter: number, flipped: boolean): number => {
        const key = `${face}/${o.align}/${o.subset}/${o.refine}/${JSON.stringify(o.dlibShape)}/${jitter}/${flipped}`;
        let k = keys.indexOf(key);
        if (k < 0) {
          const l = o.dlibShape ? byShape.get(JSON.stringify(o.dlibShape))![face] : o.refine === null ? landmarks[face] : refined[face];
          const t = faceChipTransform(l, o.align, o.subset);
          const chip = warpAffine(img, jitter === 0 ? t : jitterTransform(t, jitters[jitter - 1]), CHIP_SIZE, CHIP_SIZE);
          chips.push(flipped ? mirror(chip, CHIP_SIZE, CHIP_SIZE) : chip);
          keys.push(key);
          k = keys.length - 1;
        }
        return k;
      };
      // Same chip order as computeDescriptors: the chip, its mirror, then each jitter and its mirror.
      const plan = shared.map((v) => detections.map((_, i) => {
        const o = DESCRIBE[v];
        return Array.from({ length: 1 + o.jitter }, (_, q) => (o.mirror ? [chipIndex(i, o, q, false), chipIndex(i, o, q, true)] : [chipIndex(i, o, q, false)])).flat();
      }));
      // Every chip through each set of weights some variant uses (the chips do not depend on them).
      const raw = new Map<RecognitionWeights, Float32Array[]>();
      for (const w of new Set(shared.map((v) => DESCRIBE[v].weights))) raw.set(w, await describeChips(rt, chips, w));
      for (const [j, v] of shared.entries()) {
        const faces = detections.map((d, i) => {
          const descriptor = combineDescriptors(plan[j][i].map((k) => raw.get(DESCRIBE[v].weights)![k]), DESCRIBE[v].normalize);
          return { box: d.box, score: d.score, descriptor };
        });
        faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
        out.set(v, { width: img.width, height: img.height, faces });
      }
      return out;
    },
  };
}
