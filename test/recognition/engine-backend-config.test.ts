/** The engine backend settings: parsed, validated, and handed on to workers. */
import { describe, expect, it } from 'vitest';
import { configToEnv, loadConfig } from '../../src/config.js';

describe('engine backend config', () => {
  it('defaults to auto with one ORT thread', () => {
    const c = loadConfig({}, {});
    expect(c.recognition.engineBackend).toBe('auto');
    expect(c.recognition.ortThreads).toBe(1);
  });

  it('takes the flag over the environment, and passes both to workers', () => {
    const c = loadConfig({ engineBackend: 'wasm' }, { FACEFLEET_ENGINE_BACKEND: 'ort', FACEFLEET_ORT_THREADS: '3' });
    expect(c.recognition.engineBackend).toBe('wasm');
    const again = loadConfig({}, configToEnv(c));
    expect(again.recognition.engineBackend).toBe('wasm');
    expect(again.recognition.ortThreads).toBe(3);
  });

  it('refuses unknown backends and bad thread counts', () => {
    expect(() => loadConfig({}, { FACEFLEET_ENGINE_BACKEND: 'gpu' })).toThrow(/engine backend must be auto, ort or wasm/);
    expect(() => loadConfig({}, { FACEFLEET_ORT_THREADS: '0' })).toThrow(/ort threads/);
    expect(() => loadConfig({}, { FACEFLEET_ORT_THREADS: '1.5' })).toThrow(/ort threads/);
  });
});
