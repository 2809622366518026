/** The built-graph store: a graph is used only when its checksum and weights fingerprint match. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { loadRuntime } from '../../src/recognition/backend.js';
import { EngineError } from '../../src/recognition/errors.js';
import { graphFile, loadGraph, sha256, weightsFingerprint } from '../../src/recognition/ort/graph-store.js';
import { loadOrtNets } from '../../src/recognition/ort/ort-nets.js';

let dir: string;
let builds: number;
const bytes = new Uint8Array([8, 7, 18, 9, 102, 97, 99, 101]);
const log = silentLogger();
const load = (source = 'weights-a') =>
  loadGraph({ dir, name: 'net', source, log, build: () => (builds++, bytes) });

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-graphs-'));
  builds = 0;
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

describe('graph store', () => {
  it('builds a missing graph, records its checksum, then reads it back without building', async () => {
    expect((await load()).origin).toBe('built');
    const meta = JSON.parse(await fs.readFile(`${graphFile(dir, 'net')}.json`, 'utf8')) as { sha256: string; source: string };
    expect(meta.sha256).toBe(sha256(bytes));
    expect(meta.source).toBe('weights-a');
    const again = await load();
    expect(again.origin).toBe('cached');
    expect([...again.bytes]).toEqual([...bytes]);
    expect(builds).toBe(1);
  });

  it('rebuilds a corrupt graph (one byte flipped), naming the checksum', async () => {
    await load();
    const file = graphFile(dir, 'net');
    const damaged = await fs.readFile(file);
    damaged[3] ^= 0xff;
    await fs.writeFile(file, damaged);
    const got = await load();
    expect(got.origin).toBe('rebuilt');
    expect(got.reason).toMatch(/SHA-256/);
    expect([...(await fs.readFile(file))]).toEqual([...bytes]);
    expect(builds).toBe(2);
  });

  it('rebuilds a graph whose checksum record is missing, or whose file is missing', async () => {
    await load();
    await fs.rm(`${graphFile(dir, 'net')}.json`);
    expect((await load()).reason).toMatch(/checksum record is missing/);
    await fs.rm(graphFile(dir, 'net'));
    expect((await load()).reason).toMatch(/graph file is missing/);
    expect(builds).toBe(3);
  });

  it('rebuilds when the weights change', async () => {
    await load('weights-a');
    const got = await load('weights-b');
    expect(got.origin).toBe('rebuilt');
    expect(got.reason).toMatch(/other weights/);
  });

  it('fingerprints weights by shape and value', () => {
    const a = weightsFingerprint([{ data: new Float32Array([1, 2]), shape: [2] }]);
    expect(weightsFingerprint([{ data: new Float32Array([1, 2]), shape: [2] }])).toBe(a);
    expect(weightsFingerprint([{ data: new Float32Array([1, 3]), shape: [2] }])).not.toBe(a);
    expect(weightsFingerprint([{ data: new Float32Array([1, 2]), shape: [1, 2] }])).not.toBe(a);
  });

  it('the real nets: a corrupted descriptor graph is detected and rebuilt, and the rebuilt one runs', async () => {
    const rt = await loadRuntime({ tfBackend: 'wasm', log });
    await loadOrtNets(rt, { dir, log });
    const file = graphFile(dir, 'face-recognition-face-api');
    const damaged = await fs.readFile(file);
    damaged.fill(0, 1000, 2000);
    await fs.writeFile(file, damaged);
    // Another thread count is another set of sessions, so the store is read again.
    const nets = await loadOrtNets(rt, { dir, threads: 2, log });
    expect(nets.graphs['face-recognition-face-api']).toBe('rebuilt');
    expect(nets.graphs['face-landmark-68']).toBe('cached');
    const out = await nets.describe(new Float32Array(150 * 150 * 3).fill(128), 1, 'face-api');
    expect(out).toHaveLength(128);
    expect(out.some((v) => v !== 0)).toBe(true);
  });

  it('refuses a bad thread count with a clear error', async () => {
    const rt = await loadRuntime({ tfBackend: 'wasm', log });
    await expect(loadOrtNets(rt, { dir, threads: 0, log })).rejects.toThrow(EngineError);
  });
});
