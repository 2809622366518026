import fs from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHIP_PADDING, CHIP_SIZE, chipTransform5, FIVE_FROM_68 } from '../../src/recognition/align.js';
import { decodeImage } from '../../src/recognition/decode.js';
import { DEFAULT_STRATEGY, detectFaces } from '../../src/recognition/detect.js';
import { dlibLandmarks, faceChipTransform, locateLandmarks } from '../../src/recognition/describe.js';
import { loadEngine } from '../../src/recognition/engine.js';
import { EngineError } from '../../src/recognition/errors.js';
import { loadShapePredictor, parseShapePredictor, predictShape, rectFromLandmarks, shapePredictorPath, type ShapePredictor } from '../../src/recognition/shape-predictor.js';
import { dataDir, oneFaceCut } from '../helpers/images.js';

let sp: ShapePredictor;
beforeAll(async () => {
  sp = await loadShapePredictor();
});

/** A deterministic textured grey image: a smooth pattern the trees' pixel tests respond to. */
function texture(width: number, height: number, dx = 0, dy = 0): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out[y * width + x] = Math.floor(128 + 60 * Math.sin((x - dx) / 7) * Math.cos((y - dy) / 11) + 40 * Math.sin((x - dx + y - dy) / 5));
  return out;
}

describe('dlib 5-point shape predictor file', () => {
  it('reads the whole model: 5 landmarks, 15 levels of 500 depth-4 trees', () => {
    expect(sp.parts).toBe(5);
    expect(sp.levels).toHaveLength(15);
    for (const level of sp.levels) {
      expect(level.trees).toHaveLength(500);
      expect(level.anchor.length).toBeGreaterThan(0);
      for (const t of level.trees) expect(t.idx1.length).toBe(15);
    }
    // The mean shape: eye corners above the nose, the first eye on the image's right.
    const y = (i: number) => sp.initial[2 * i + 1], x = (i: number) => sp.initial[2 * i];
    expect(x(0)).toBeGreaterThan(x(1));
    expect(x(1)).toBeGreaterThan(x(3));
    expect(x(3)).toBeGreaterThan(x(2));
    for (const i of [0, 1, 2, 3]) expect(y(i)).toBeLessThan(y(4));
  });

  it('refuses truncated, empty and foreign files with an EngineError that names the file', async () => {
    const real = await fs.readFile(shapePredictorPath(5));
    expect(() => parseShapePredictor(real.subarray(0, real.length - 10), 'cut.dat')).toThrow(/cut\.dat/);
    expect(() => parseShapePredictor(Buffer.alloc(0), 'empty.dat')).toThrow(EngineError);
    expect(() => parseShapePredictor(Buffer.from([0x01, 0x07]), 'v7.dat')).toThrow(EngineError);
    expect(() => parseShapePredictor(Buffer.concat([real, Buffer.from([1, 1])]), 'long.dat')).toThrow(/after the last level/);
  });
});

describe('predictShape', () => {
  it('moves with the image: content and rectangle shifted by whole pixels give landmarks shifted the same', () => {
    const w = 300, h = 260;
    const rect = { left: 80, top: 60, right: 200, bottom: 180 };
    const a = predictShape(sp, texture(w, h), w, h, rect);
    const b = predictShape(sp, texture(w, h, 13, -7), w, h, { left: rect.left + 13, top: rect.top - 7, right: rect.right + 13, bottom: rect.bottom - 7 });
    for (let i = 0; i < 5; i++) {
      expect(b[i].x - a[i].x).toBeCloseTo(13, 3);
      expect(b[i].y - a[i].y).toBeCloseTo(-7, 3);
    }
    // And it does look at the pixels: other content, other answer.
    const c = predictShape(sp, texture(w, h, 40, 25), w, h, rect);
    expect(c.some((p, i) => Math.hypot(p.x - a[i].x, p.y - a[i].y) > 0.5)).toBe(true);
  });

  it('reads pixels outside the image as black instead of failing', () => {
    const pts = predictShape(sp, texture(50, 50), 50, 50, { left: -100, top: -80, right: 120, bottom: 140 });
    for (const p of pts) expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
  });

  it('rectFromLandmarks inverts the mean shape\'s placement', () => {
    const rect = { left: 40, top: 30, right: 160, bottom: 150 };
    const placed = Array.from({ length: 5 }, (_, i) => ({ x: rect.left + sp.initial[2 * i] * 120, y: rect.top + sp.initial[2 * i + 1] * 120 }));
    const back = rectFromLandmarks(sp, placed, [0, 1, 2, 3, 4]);
    for (const k of ['left', 'top', 'right', 'bottom'] as const) expect(back[k]).toBeCloseTo(rect[k], 6);
  });
});

describe('5-point chips', () => {
  it('put dlib\'s template points where get_face_chip_details puts them', () => {
    const pts = [
      { x: 150, y: 100 }, { x: 128, y: 102 }, { x: 75, y: 100 }, { x: 97, y: 102 }, { x: 112, y: 140 },
    ];
    const t = chipTransform5(pts);
    // The chip pixel of the template's nose point maps close to the given nose point.
    const u = ((CHIP_PADDING + 0.4901123135679) / (2 * CHIP_PADDING + 1)) * CHIP_SIZE, v = ((CHIP_PADDING + 0.6277975316475) / (2 * CHIP_PADDING + 1)) * CHIP_SIZE;
    expect(Math.hypot(t.a * u - t.b * v + t.tx - 112, t.b * u + t.a * v + t.ty - 140)).toBeLessThan(3);
    expect(faceChipTransform(pts)).toEqual(t);
    expect(() => chipTransform5(pts.slice(0, 4))).toThrow(RangeError);
  });
});

describe('on real faces', () => {
  it('lands within a tenth of the eye distance of face-api\'s corresponding landmarks', async () => {
    const engine = await loadEngine({ tfBackend: 'auto' });
    const rt = engine.runtime;
    let checked = 0;
    const images: Array<[string, Buffer]> = [];
    for (const file of [dataDir('bbt', 'penny', 'penny1.png'), dataDir('bbt', 'raj', 'raj2.png'), dataDir('bbt', 'bbt1.jpg')]) images.push([file, await fs.readFile(file)]);
    images.push(['bbt4@0,195', await oneFaceCut('bbt4@0,195')]);
    for (const [file, bytes] of images) {
      const img = await decodeImage(bytes);
      const pixels = rt.tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
      const found = await detectFaces(rt, img, pixels, DEFAULT_STRATEGY).finally(() => pixels.dispose());
      const lm68 = await locateLandmarks(rt, img, found.map((d) => d.box), 0.1);
      const five = await dlibLandmarks(rt, img, lm68, { points: 5, rounds: 1 });
      for (const [f, pts] of five.entries()) {
        const ref = FIVE_FROM_68.map((i) => lm68[f][i]);
        const eyes = Math.hypot(ref[0].x - ref[2].x, ref[0].y - ref[2].y);
        for (let i = 0; i < 5; i++) expect(Math.hypot(pts[i].x - ref[i].x, pts[i].y - ref[i].y), `${file} point ${i}`).toBeLessThan(0.1 * eyes + 1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(7);
  });

  it('the 68-point model (benchmarks only) agrees with face-api\'s 68 on the eyes, nose and mouth', async () => {
    const engine = await loadEngine({ tfBackend: 'auto' });
    const rt = engine.runtime;
    const img = await decodeImage(await oneFaceCut('bbt4@0,195'));
    const pixels = rt.tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32');
    const found = await detectFaces(rt, img, pixels, DEFAULT_STRATEGY).finally(() => pixels.dispose());
    const [lm] = await locateLandmarks(rt, img, [found[0].box], 0.1);
    const [ours] = await dlibLandmarks(rt, img, [lm], { points: 68, rounds: 1 });
    expect(ours).toHaveLength(68);
    const eyes = Math.hypot(lm[45].x - lm[36].x, lm[45].y - lm[36].y);
    // Landmarks 27-67 (nose, eyes, mouth); the jaw line is defined differently enough to skip.
    let sum = 0;
    for (let i = 27; i < 68; i++) sum += Math.hypot(ours[i].x - lm[i].x, ours[i].y - lm[i].y);
    expect(sum / 41).toBeLessThan(0.08 * eyes);
  });
});
