/**
 * The ORT tiny detector's array path (src/recognition/ort/tiny-input.ts and `locateFacesRgb`)
 * against face-api's own tensor path on the same ORT net: the input bit for bit, and the same
 * detections, for plain and framed passes, square and oblong images.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, type RgbImage } from '../../src/recognition/decode.js';
import { loadEngine, type LoadedEngine } from '../../src/recognition/engine.js';
import type { TinyLocator } from '../../src/recognition/ort/tiny-detector.js';
import { tinyInputInto } from '../../src/recognition/ort/tiny-input.js';
import { distinctCse546 } from '../helpers/cse546.js';
import { dataDir } from '../helpers/images.js';

let engine: LoadedEngine;
let tmp: string;
let images: Array<{ name: string; img: RgbImage }>;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-tiny-'));
  engine = await loadEngine({ tfBackend: 'wasm', engineBackend: 'ort', graphDir: tmp });
  const crops = (await distinctCse546()).slice(0, 3).map((c) => ({ name: c.file, buffer: c.buffer }));
  // An oblong crop (face-api pads it to a square with zeros) and a larger crop.
  const amy = await fs.readFile(path.join(dataDir('bbt'), 'amy', 'amy1.png'));
  images = await Promise.all([...crops, { name: 'amy1.png', buffer: amy }].map(async (c) => ({ name: c.name, img: await decodeImage(c.buffer) })));
  const { img } = images[images.length - 1];
  const w = Math.round(img.width * 0.7);
  const data = Buffer.alloc(w * img.height * 3);
  for (let y = 0; y < img.height; y++) img.data.copy(data, y * w * 3, y * img.width * 3, (y * img.width + w) * 3);
  images.push({ name: 'amy1.png, cut narrower', img: { ...img, data, width: w } });
}, 120_000);
afterAll(async () => {
  await engine?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A detection's box and score, as plain numbers. */
const plain = (d: { box: { x: number; y: number; width: number; height: number }; score: number }) => ({ box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height }, score: d.score });

/** face-api's input and detections on the image framed by `margin` px of 128, as detect.ts gave them before. */
async function viaTensors(img: RgbImage, inputSize: number, margin: number, minScore: number) {
  const { tf, faceapi } = engine.runtime;
  const t = tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
  const framed = margin > 0 ? tf.pad(t, [[margin, margin], [margin, margin], [0, 0]], 128) : t;
  try {
    const netInput = await faceapi.toNetInput(framed as never);
    const batch = tf.tidy(() => tf.cast(netInput.toBatchTensor(inputSize, false) as never, 'float32')) as unknown as { data(): Promise<unknown>; dispose(): void };
    const input = (await batch.data()) as Float32Array;
    batch.dispose();
    const found = await faceapi.nets.tinyFaceDetector.locateFaces(framed as never, new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: minScore }));
    return { input, found: found.map(plain) };
  } finally {
    if (margin > 0) framed.dispose();
    t.dispose();
  }
}

describe('the ORT tiny detector on arrays', () => {
  it('prepares the input bit for bit as face-api does, and finds the same faces', async () => {
    const locator = engine.runtime.faceapi.nets.tinyFaceDetector as unknown as TinyLocator;
    expect(typeof locator.locateFacesRgb).toBe('function');
    let faces = 0;
    for (const { name, img } of images) {
      const passes = [
        { inputSize: 320, pad: 0, minScore: 0.5 },
        { inputSize: 320, pad: 0.5, minScore: 0.4 },
        { inputSize: 224, pad: 0, minScore: 0.2 },
        { inputSize: 416, pad: 0.25, minScore: 0.2 },
      ];
      for (const p of passes) {
        const margin = Math.round(p.pad * Math.max(img.width, img.height));
        const ref = await viaTensors(img, p.inputSize, margin, p.minScore);
        const mine = new Float32Array(ref.input.length);
        tinyInputInto(mine, 0, img, p.inputSize, margin, 128);
        expect(Buffer.from(mine.buffer).equals(Buffer.from(ref.input.buffer, ref.input.byteOffset, ref.input.byteLength)), `${name} input at ${p.inputSize}, margin ${margin}`).toBe(true);
        const got = (await locator.locateFacesRgb(img, margin, 128, { inputSize: p.inputSize, scoreThreshold: p.minScore })).map(plain);
        expect(got, `${name} at ${p.inputSize}, margin ${margin}`).toEqual(ref.found);
        faces += got.length;
      }
    }
    expect(faces).toBeGreaterThan(5);
  }, 120_000);
});
