/**
 * Which backend runs the engine's nets: `ort` (ONNX Runtime for the descriptor, landmark, tiny
 * and SSD detector nets, and dlib's MMOD net; dlib's shape predictors stay in JavaScript), `wasm` (TensorFlow.js throughout), or `auto` (ORT where
 * it loads, else wasm). The chosen backend is logged.
 */
import type { Logger } from '../../log.js';
import type { FaceRuntime } from '../backend.js';
import { createMmodDetector, type MmodDetector } from '../mmod.js';
import { loadOrtNets, type OrtOptions } from './ort-nets.js';
import { withOrtDetectors } from './tiny-detector.js';

export type EngineBackendChoice = 'auto' | 'ort' | 'wasm';

export const ENGINE_BACKENDS: readonly EngineBackendChoice[] = ['auto', 'ort', 'wasm'];

export interface EngineBackendOptions extends Omit<OrtOptions, 'log'> {
  choice: EngineBackendChoice;
  log: Logger;
}

/**
 * The runtime the engine runs on: `rt` itself for wasm, or a copy whose `ort` nets take the
 * landmark, descriptor and detector passes and whose `backend` is `ort`. `ort` throws EngineError when
 * ONNX Runtime does not load; `auto` then falls back to `rt` and logs why.
 */
export async function selectEngineBackend(rt: FaceRuntime, options: EngineBackendOptions): Promise<FaceRuntime> {
  const { choice, log, ...ort } = options;
  if (choice === 'wasm') {
    log.info({ backend: rt.backend, requested: choice }, `engine backend: TensorFlow.js ${rt.backend}`);
    return rt;
  }
  try {
    const nets = await loadOrtNets(rt, { ...ort, log });
    log.info({ backend: 'ort', requested: choice, threads: nets.threads, graphs: nets.graphs, tf: rt.backend }, `engine backend: ONNX Runtime (${nets.threads} thread${nets.threads === 1 ? '' : 's'}; image preparation on TensorFlow.js ${rt.backend})`);
    // dlib's detector (read on first use, as on wasm) with its net on ONNX Runtime.
    let mmod: Promise<MmodDetector> | undefined;
    const mmodDetector = (): Promise<MmodDetector> => {
      if (!mmod) {
        const p = rt.mmodDetector().then(async (d) => createMmodDetector(rt.tf, d.model, await nets.mmod(d.model)));
        mmod = p;
        p.catch(() => {
          if (mmod === p) mmod = undefined;
        });
      }
      return mmod;
    };
    return { ...withOrtDetectors(rt, nets), backend: 'ort', ort: nets, mmodDetector };
  } catch (err) {
    if (choice === 'ort') throw err;
    log.warn({ backend: rt.backend, requested: choice, reason: (err as Error).message }, `engine backend: ONNX Runtime unavailable, running TensorFlow.js ${rt.backend}`);
    return rt;
  }
}
