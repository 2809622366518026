/**
 * The engine's nets on ONNX Runtime (`onnxruntime-node`, an optional dependency): the graphs
 * are built from the weights face-api has loaded (./descriptor-graph.ts, ./landmark-graph.ts,
 * ./tiny-graph.ts, ./ssd-graph.ts), kept in the graph store (./graph-store.ts), and run on the CPU with one intra-op thread by
 * default: the fleet runs one worker per core.
 */
import { createRequire } from 'node:module';
import type { Logger } from '../../log.js';
import type { FaceRuntime, RecognitionWeights } from '../backend.js';
import { EngineError } from '../errors.js';
import { buildDescriptorGraph, DESCRIPTOR_IO, type ReadWeight, type RecognitionParams, type Weight } from './descriptor-graph.js';
import { loadGraph, weightsFingerprint, type GraphOrigin } from './graph-store.js';
import { buildLandmarkGraph, LANDMARK_IO } from './landmark-graph.js';
import type { MmodModel, MmodNet } from '../mmod.js';
import { buildMmodGraph, MMOD_IO } from './mmod-graph.js';
import { buildSsdGraph, SSD_IO, type SsdParams } from './ssd-graph.js';
import { buildTinyGraph, TINY_IO } from './tiny-graph.js';

const require = createRequire(import.meta.url);

/** The subset of onnxruntime-node's API used here. */
interface OrtTensor {
  data: unknown;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
}
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

/** The nets the engine runs on ONNX Runtime, batched: `n` images in one run. */
export interface OrtNets {
  /** Intra-op threads per session. */
  readonly threads: number;
  /** How each graph was obtained (cached, built, rebuilt, memory), by graph name. */
  readonly graphs: Record<string, GraphOrigin>;
  /** Raw descriptors `[n * 128]` of `n` 150x150 RGB chips packed in `batch`. */
  describe(batch: Float32Array, n: number, weights: RecognitionWeights): Promise<Float32Array>;
  /** Crop-relative landmarks `[n * 136]` of `n` 112x112 RGB crops packed in `batch`. */
  landmarks(batch: Float32Array, n: number): Promise<Float32Array>;
  /** The tiny detector's output grid (NHWC) for `n` h x w RGB images packed in `batch`. */
  tiny(batch: Float32Array, n: number, h: number, w: number): Promise<{ data: Float32Array; dims: number[] }>;
  /** dlib's MMOD net for `model` (the `dlib-ensemble` pipeline); its graph is built or read on first use. */
  mmod(model: MmodModel): Promise<MmodNet>;
  /** The SSD detector's raw predictions `[n * 5118 * 7]` for `n` 512x512 RGB images packed in `batch`, each as three channel planes. */
  ssd(batch: Float32Array, n: number): Promise<Float32Array>;
}

export interface OrtOptions {
  /** Where built graphs are kept; null = build in memory on every start. */
  dir: string | null;
  /** Intra-op threads per session. Default 1. */
  threads?: number;
  /** The module to load, default `onnxruntime-node` (tests name a missing one to force the fallback). */
  module?: string;
  log: Logger;
}

/** Load onnxruntime-node, or throw {@link EngineError} saying why it is unavailable. */
export function loadOrtModule(name = 'onnxruntime-node'): OrtModule {
  try {
    return require(name) as OrtModule;
  } catch (err) {
    throw new EngineError(`ONNX Runtime (${name}) does not load: ${(err as Error).message.split('\n')[0]}. Install it (npm install onnxruntime-node) or use --engine-backend wasm.`, { cause: err });
  }
}

interface TfLike {
  shape: number[];
  dataSync(): ArrayLike<number>;
}
const isTensor = (v: unknown): v is TfLike => typeof v === 'object' && v !== null && 'dataSync' in v && 'shape' in v;

/** Every tensor in a face-api params object, in a fixed order, read once. */
function collectWeights(params: unknown): { read: ReadWeight; all: Weight[] } {
  const cache = new Map<unknown, Weight>();
  const read: ReadWeight = (t) => {
    let w = cache.get(t);
    if (!w) {
      if (!isTensor(t)) throw new EngineError('A face-api parameter is not a tensor; the net is not loaded as expected.');
      w = { data: Float32Array.from(t.dataSync()), shape: [...t.shape] };
      cache.set(t, w);
    }
    return w;
  };
  const all: Weight[] = [];
  const walk = (v: unknown): void => {
    if (isTensor(v)) all.push(read(v));
    else if (v && typeof v === 'object') for (const key of Object.keys(v).sort()) walk((v as Record<string, unknown>)[key]);
  };
  walk(params);
  return { read, all };
}

const sessions = new Map<string, Promise<OrtNets>>();

/**
 * The ORT nets for this runtime's loaded weights, one set per process and options (graphs are
 * built or read once). Throws {@link EngineError} when ONNX Runtime does not load or a graph
 * does not run.
 */
export function loadOrtNets(rt: FaceRuntime, options: OrtOptions): Promise<OrtNets> {
  const threads = options.threads ?? 1;
  const key = `${options.module ?? ''}|${options.dir ?? ''}|${threads}`;
  let nets = sessions.get(key);
  if (!nets) {
    nets = createNets(rt, { ...options, threads });
    sessions.set(key, nets);
    nets.catch(() => sessions.delete(key));
  }
  return nets;
}

async function createNets(rt: FaceRuntime, options: OrtOptions & { threads: number }): Promise<OrtNets> {
  const ort = loadOrtModule(options.module);
  const { log, threads } = options;
  if (!Number.isInteger(threads) || threads < 1) throw new EngineError(`ORT threads must be a positive integer, got ${threads}`);
  const sessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
  const graphs: Record<string, GraphOrigin> = {};

  async function session(name: string, params: unknown, build: (read: ReadWeight) => Uint8Array, weights?: Weight[]): Promise<OrtSession> {
    const { read, all } = collectWeights(params);
    const stored = await loadGraph({ dir: options.dir, name, source: weightsFingerprint(weights ?? all), build: () => build(read), log });
    graphs[name] = stored.origin;
    try {
      return await ort.InferenceSession.create(stored.bytes, sessionOptions);
    } catch (err) {
      throw new EngineError(`ONNX Runtime refused the ${name} graph${stored.file ? ` (${stored.file})` : ''}: ${(err as Error).message}`, { cause: err });
    }
  }

  const landmarkNet = rt.faceapi.nets.faceLandmark68Net as unknown as { params: { fc: { weights: unknown; bias: unknown } }; faceFeatureExtractor: { params: Record<string, unknown> } };
  const landmarkParams = { extractor: landmarkNet.faceFeatureExtractor.params, fc: landmarkNet.params.fc };
  const landmarkSession = await session('face-landmark-68', landmarkParams, (read) => buildLandmarkGraph(landmarkParams.extractor, landmarkParams.fc, read));
  const tinyParams = (rt.faceapi.nets.tinyFaceDetector as unknown as { params: Record<string, unknown> }).params;
  const tinySession = await session('tiny-face-detector', tinyParams, (read) => buildTinyGraph(tinyParams, read));
  const ssdParams = (rt.faceapi.nets.ssdMobilenetv1 as unknown as { params: SsdParams }).params;
  const ssdSession = await session('ssd-mobilenetv1', ssdParams, (read) => buildSsdGraph(ssdParams, read));
  const descriptorSessions = new Map<RecognitionWeights, Promise<OrtSession>>();
  const descriptorSession = (weights: RecognitionWeights): Promise<OrtSession> => {
    let s = descriptorSessions.get(weights);
    if (!s) {
      s = (async () => {
        const net = (await rt.recognitionNet(weights)) as unknown as { params: RecognitionParams };
        return session(`face-recognition-${weights}`, net.params, (read) => buildDescriptorGraph(net.params, read));
      })();
      descriptorSessions.set(weights, s);
      s.catch(() => descriptorSessions.delete(weights));
    }
    return s;
  };
  await descriptorSession('face-api');

  const mmodNets = new Map<MmodModel, Promise<MmodNet>>();
  const mmodNet = (model: MmodModel): Promise<MmodNet> => {
    let net = mmodNets.get(model);
    if (!net) {
      net = (async () => {
        const weights = model.layers.flatMap((l) => [{ data: l.weights, shape: [l.rows, l.cols, l.inputs, l.filters] }, { data: l.bias, shape: [l.filters] }]);
        const s = await session('dlib-mmod', null, () => buildMmodGraph(model), weights);
        return async (input: Float32Array, height: number, width: number) => {
          const out = (await s.run({ [MMOD_IO.input]: new ort.Tensor('float32', input, [1, height, width, 3]) }))[MMOD_IO.output];
          return { scores: out.data as Float32Array, rows: out.dims[2], cols: out.dims[3] };
        };
      })();
      mmodNets.set(model, net);
      net.catch(() => mmodNets.delete(model));
    }
    return net;
  };

  async function run(s: OrtSession, input: string, output: string, batch: Float32Array, n: number, side: number, planes = false): Promise<Float32Array> {
    if (batch.length !== n * side * side * 3) throw new RangeError(`expected ${n} images of ${side}x${side}x3, got ${batch.length} values`);
    const out = await s.run({ [input]: new ort.Tensor('float32', batch, planes ? [n, 3, side, side] : [n, side, side, 3]) });
    return out[output].data as Float32Array;
  }

  log.info({ threads, graphs, dir: options.dir }, 'ONNX Runtime nets ready (descriptor, landmarks, tiny and SSD detectors)');
  return {
    threads,
    graphs,
    describe: async (batch, n, weights) => run(await descriptorSession(weights), DESCRIPTOR_IO.input, DESCRIPTOR_IO.output, batch, n, DESCRIPTOR_IO.side),
    mmod: mmodNet,
    ssd: (batch, n) => run(ssdSession, SSD_IO.input, SSD_IO.output, batch, n, SSD_IO.side, true),
    landmarks: (batch, n) => run(landmarkSession, LANDMARK_IO.input, LANDMARK_IO.output, batch, n, LANDMARK_IO.side),
    async tiny(batch, n, h, w) {
      if (batch.length !== n * h * w * 3) throw new RangeError(`expected ${n} images of ${w}x${h}x3, got ${batch.length} values`);
      const out = (await tinySession.run({ [TINY_IO.input]: new ort.Tensor('float32', batch, [n, h, w, 3]) }))[TINY_IO.output];
      return { data: out.data as Float32Array, dims: [...out.dims] };
    },
  };
}
