/**
 * The engine on ONNX Runtime: the same answers as TensorFlow.js wasm on the committed fixtures,
 * the fallback when ORT does not load, and the same refusals of poison images.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEngine, type LoadedEngine } from '../../src/recognition/engine.js';
import { decodeImage } from '../../src/recognition/decode.js';
import { EngineError } from '../../src/recognition/errors.js';
import { euclidean } from '../../src/recognition/matcher.js';
import { distinctCse546 } from '../helpers/cse546.js';
import { dataDir, pngBomb, svgImage } from '../helpers/images.js';
import { TEXT_FILE, truncatedJpeg } from '../helpers/hostile.js';

let wasm: LoadedEngine;
let ort: LoadedEngine;
let tmp: string;

/** A logger that keeps its lines, to check what the engine says it runs on. */
function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-ort-'));
  wasm = await loadEngine({ tfBackend: 'wasm', engineBackend: 'wasm' });
  ort = await loadEngine({ tfBackend: 'wasm', engineBackend: 'ort', graphDir: tmp });
});
afterAll(async () => {
  await wasm?.close();
  await ort?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** The fixtures both backends must agree on: bbt crops (two per person), the group shots, CSE546's ten images. */
async function fixtures(): Promise<Array<{ name: string; buffer: Buffer }>> {
  const out: Array<{ name: string; buffer: Buffer }> = [];
  const root = dataDir('bbt');
  for (const person of (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const file of (await fs.readdir(path.join(root, person))).sort().slice(0, 2)) out.push({ name: `${person}/${file}`, buffer: await fs.readFile(path.join(root, person, file)) });
  }
  for (let i = 1; i <= 5; i++) out.push({ name: `bbt${i}.jpg`, buffer: await fs.readFile(path.join(root, `bbt${i}.jpg`)) });
  for (const img of await distinctCse546()) out.push({ name: `cse546/${img.file}`, buffer: img.buffer });
  return out;
}

describe('ORT backend', () => {
  it('warm-up runs on both backends and changes no answer', async () => {
    const image = await fs.readFile(path.join(dataDir('bbt'), 'amy', 'amy1.png'));
    for (const engine of [ort, wasm]) {
      const before = await engine.analyze(image);
      await engine.warmUp();
      const after = await engine.analyze(image);
      expect(after.faces.map((f) => f.box)).toEqual(before.faces.map((f) => f.box));
      expect(after.faces.map((f) => Array.from(f.descriptor))).toEqual(before.faces.map((f) => Array.from(f.descriptor)));
      expect(before.faces).toHaveLength(1);
    }
  });

  it('names its backend and stores its graphs with checksums', async () => {
    expect(wasm.backend).toBe('wasm');
    expect(ort.backend).toBe('ort');
    const files = (await fs.readdir(tmp)).sort();
    expect(files).toEqual(['face-landmark-68.onnx', 'face-landmark-68.onnx.json', 'face-recognition-face-api.onnx', 'face-recognition-face-api.onnx.json', 'ssd-mobilenetv1.onnx', 'ssd-mobilenetv1.onnx.json', 'tiny-face-detector.onnx', 'tiny-face-detector.onnx.json']);
  });

  it('gives the same faces as wasm on the fixtures: boxes within 1 px, descriptors within 1e-4', async () => {
    let worst = 0;
    let faces = 0;
    for (const { name, buffer } of await fixtures()) {
      const a = await wasm.analyze(buffer);
      const b = await ort.analyze(buffer);
      expect(b.faces.length, name).toBe(a.faces.length);
      a.faces.forEach((fa, i) => {
        const fb = b.faces[i];
        for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(fa.box[k] - fb.box[k]), `${name} face ${i} ${k}`).toBeLessThanOrEqual(1);
        const d = euclidean(fa.descriptor, fb.descriptor);
        worst = Math.max(worst, d);
        expect(d, `${name} face ${i}`).toBeLessThan(1e-4);
        faces++;
      });
    }
    // The fixtures hold faces; an empty comparison would prove nothing.
    expect(faces).toBeGreaterThan(30);
    expect(worst).toBeGreaterThan(0); // two real backends, not one engine twice
  }, 600_000);

  it('runs SSD on ONNX Runtime with the boxes and scores of face-api on wasm, down to a low threshold', async () => {
    expect(ort.runtime.faceapi.nets.ssdMobilenetv1).not.toBe(wasm.runtime.faceapi.nets.ssdMobilenetv1);
    const { tf, faceapi } = wasm.runtime;
    let compared = 0;
    // A group shot as it is, and a crop on a padded canvas (the small-image fallback pass); the
    // pipeline comparison above runs SSD on all five group shots.
    // face-api's own suppression reads every box back per pair, so low thresholds cost wasm seconds.
    const inputs = [];
    for (const i of [1]) inputs.push(await fs.readFile(path.join(dataDir('bbt'), `bbt${i}.jpg`)));
    const crop = (await fixtures())[0].buffer;
    for (const buffer of [...inputs, crop]) {
      const img = await decodeImage(buffer);
      let t = tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
      if (buffer === crop) t = tf.pad(t, [[32, 32], [32, 32], [0, 0]], 128);
      try {
        for (const minConfidence of [0.5, 0.2]) {
          const options = new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 100 });
          const a = await wasm.runtime.faceapi.nets.ssdMobilenetv1.locateFaces(t as never, options);
          const b = await ort.runtime.faceapi.nets.ssdMobilenetv1.locateFaces(t as never, options);
          expect(b.length).toBe(a.length);
          a.forEach((d, i) => {
            for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(d.box[k] - b[i].box[k])).toBeLessThanOrEqual(1);
            expect(Math.abs(d.score - b[i].score)).toBeLessThan(1e-3);
          });
          compared += a.length;
        }
      } finally {
        t.dispose();
      }
    }
    expect(compared).toBeGreaterThan(5);
  }, 300_000);

  it("runs dlib's MMOD net on ONNX Runtime with wasm's rectangles and scores", async () => {
    const a = await wasm.runtime.mmodDetector();
    const b = await ort.runtime.mmodDetector();
    expect(b).not.toBe(a);
    const img = await decodeImage(await fs.readFile(path.join(dataDir('bbt'), 'bbt2.jpg')));
    const da = await a.detect(img);
    const db = await b.detect(img);
    expect(da.length).toBeGreaterThan(0);
    expect(db.map((d) => d.rect)).toEqual(da.map((d) => d.rect));
    da.forEach((d, i) => expect(Math.abs(d.confidence - db[i].confidence)).toBeLessThan(1e-3));
    expect((await fs.readdir(tmp)).filter((f) => f.startsWith('dlib-mmod'))).toEqual(['dlib-mmod.onnx', 'dlib-mmod.onnx.json']);
  }, 120_000);

  it('refuses poison images exactly as wasm does', async () => {
    const bad = [await truncatedJpeg(), Buffer.from(TEXT_FILE), svgImage(), await pngBomb(), Buffer.alloc(0)];
    for (const buffer of bad) {
      const e1 = await wasm.analyze(buffer).then(() => null, (e: Error) => e);
      const e2 = await ort.analyze(buffer).then(() => null, (e: Error) => e);
      expect(e1, 'wasm refuses it').toBeInstanceOf(Error);
      expect(e2?.constructor).toBe(e1?.constructor);
      expect((e2 as { code?: string }).code).toBe((e1 as { code?: string }).code);
    }
    // The 49 MP flat PNG that once aborted the wasm engine (test/e2e/poison-image.test.ts): no face on either.
    const huge = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
    expect((await wasm.analyze(huge)).faces).toEqual([]);
    expect((await ort.analyze(huge)).faces).toEqual([]);
  }, 120_000);
});

describe('ORT unavailable', () => {
  it('auto falls back to wasm and logs why', async () => {
    const { log, lines } = captureLogger();
    const engine = await loadEngine({ tfBackend: 'wasm', engineBackend: 'auto', ortModule: 'onnxruntime-node-not-installed', log });
    expect(engine.backend).toBe('wasm');
    const line = lines.find((l) => String(l.msg).includes('ONNX Runtime unavailable'));
    expect(line?.backend).toBe('wasm');
    expect(String(line?.reason)).toContain('onnxruntime-node-not-installed');
    await engine.close();
  });

  it('auto picks ORT where it loads, and says so', async () => {
    const { log, lines } = captureLogger();
    const engine = await loadEngine({ tfBackend: 'wasm', engineBackend: 'auto', graphDir: tmp, log });
    expect(engine.backend).toBe('ort');
    expect(lines.some((l) => l.backend === 'ort' && String(l.msg).startsWith('engine backend: ONNX Runtime'))).toBe(true);
    await engine.close();
  });

  it('an explicit ort refuses to start without it', async () => {
    await expect(loadEngine({ tfBackend: 'wasm', engineBackend: 'ort', ortModule: 'onnxruntime-node-not-installed' })).rejects.toThrow(EngineError);
  });
});
