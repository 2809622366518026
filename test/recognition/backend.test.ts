import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadRuntime } from '../../src/recognition/backend.js';
import { EngineError } from '../../src/recognition/errors.js';
import { silentLogger } from '../../src/log.js';

const require = createRequire(import.meta.url);

function tfjsNodeLoads(): boolean {
  try {
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe('TensorFlow backend selection', () => {
  it('node fails cleanly when tfjs-node does not load, and auto then falls back to wasm', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const log = silentLogger();
    log.info = ((obj: Record<string, unknown>) => void logged.push(obj)) as typeof log.info;
    if (tfjsNodeLoads()) {
      const rt = await loadRuntime({ tfBackend: 'node', log });
      expect(rt.backend).toBe('tensorflow');
      return;
    }
    const err = await loadRuntime({ tfBackend: 'node', log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('engine');
    expect((err as EngineError).message).toMatch(/tfjs-node/);

    const rt = await loadRuntime({ tfBackend: 'auto', log });
    expect(rt.backend).toBe('wasm');
    expect(rt.models).toEqual(['ssdMobilenetv1', 'tinyFaceDetector', 'faceLandmark68Net', 'faceRecognitionNet']);
    // The fallback and the ready backend are both logged, with the model names.
    expect(logged.some((l) => typeof l.reason === 'string')).toBe(true);
    expect(logged.some((l) => l.backend === 'wasm' && Array.isArray(l.models))).toBe(true);

    // Once wasm runs in this process, a later explicit request for node cannot switch it.
    await expect(loadRuntime({ tfBackend: 'node', log })).rejects.toBeInstanceOf(EngineError);
    expect(await loadRuntime({ tfBackend: 'wasm', log })).toBe(rt);
  });
});
