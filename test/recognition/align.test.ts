import { describe, expect, it } from 'vitest';
import { chipJitters, chipTransform, fitSimilarity, jitterTransform, mirror, warpAffine, type Point } from '../../src/recognition/align.js';
import { faceChips, landmarkBox } from '../../src/recognition/describe.js';

describe('fitSimilarity', () => {
  it('recovers a known rotation, scale and translation from noiseless points', () => {
    const angle = 0.3, scale = 2.5;
    const truth = { a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx: 40, ty: -7 };
    const from: Point[] = [{ x: 0, y: 0 }, { x: 10, y: 3 }, { x: -4, y: 8 }, { x: 6, y: -5 }];
    const to = from.map((p) => ({ x: truth.a * p.x - truth.b * p.y + truth.tx, y: truth.b * p.x + truth.a * p.y + truth.ty }));
    const t = fitSimilarity(from, to);
    expect(t.a).toBeCloseTo(truth.a, 9);
    expect(t.b).toBeCloseTo(truth.b, 9);
    expect(t.tx).toBeCloseTo(truth.tx, 9);
    expect(t.ty).toBeCloseTo(truth.ty, 9);
  });
});

describe('chipTransform', () => {
  it('needs 68 landmarks and scales with the face', () => {
    expect(() => chipTransform([{ x: 0, y: 0 }])).toThrow(RangeError);
    const small = Array.from({ length: 68 }, (_, i) => ({ x: (i % 9) * 5, y: Math.floor(i / 9) * 5 }));
    const big = small.map((p) => ({ x: p.x * 2, y: p.y * 2 }));
    const ts = chipTransform(small), tb = chipTransform(big);
    expect(Math.hypot(tb.a, tb.b) / Math.hypot(ts.a, ts.b)).toBeCloseTo(2, 6);
  });

  it('fits dlib\'s subset by default: eyebrows and lower lip do not move the chip', () => {
    const face = Array.from({ length: 68 }, (_, i) => ({ x: 100 + (i % 9) * 7 + Math.sin(i) * 3, y: 80 + Math.floor(i / 9) * 6 + Math.cos(i) * 2 }));
    const moved = face.map((p, i) => ((i >= 17 && i <= 26) || (i >= 55 && i <= 59) || i >= 65 ? { x: p.x + 15, y: p.y - 9 } : p));
    const a = chipTransform(face), b = chipTransform(moved);
    expect(b.a).toBeCloseTo(a.a, 12);
    expect(b.b).toBeCloseTo(a.b, 12);
    expect(b.tx).toBeCloseTo(a.tx, 12);
    expect(b.ty).toBeCloseTo(a.ty, 12);
    // The 17-67 fit does see them.
    const c = chipTransform(face, 150, 0.25, 'all51'), d = chipTransform(moved, 150, 0.25, 'all51');
    expect(Math.abs(d.tx - c.tx) + Math.abs(d.ty - c.ty)).toBeGreaterThan(1);
  });
});

describe('landmarkBox', () => {
  it('is the square around the landmarks, grown by the margin on each side', () => {
    const pts = [{ x: 10, y: 20 }, { x: 50, y: 20 }, { x: 30, y: 80 }];
    const box = landmarkBox(pts, 0.1);
    // Side max(40, 60) * 1.2 = 72, centred on (30, 50).
    expect(box.width).toBeCloseTo(72, 9);
    expect(box.height).toBeCloseTo(72, 9);
    expect(box.x + box.width / 2).toBeCloseTo(30, 9);
    expect(box.y + box.height / 2).toBeCloseTo(50, 9);
  });
});

/**
 * warpAffine written out tap by tap (k x k bilinear taps per output pixel, black outside the
 * image), with its arithmetic in its order: what its shortcuts must give bit for bit.
 */
function referenceWarp(img: { data: Uint8Array; width: number; height: number }, t: { a: number; b: number; tx: number; ty: number }, width: number, height: number, maxTaps = 8): Float32Array {
  const k = Math.max(1, Math.min(maxTaps, Math.round(Math.hypot(t.a, t.b))));
  const px = (x: number, y: number, c: number): number => (x < 0 || y < 0 || x >= img.width || y >= img.height ? 0 : img.data[(y * img.width + x) * 3 + c]);
  const out = new Float32Array(width * height * 3);
  for (let oy = 0; oy < height; oy++) {
    for (let ox = 0; ox < width; ox++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let sy = 0; sy < k; sy++) {
          for (let sx = 0; sx < k; sx++) {
            const cx = ox + (sx + 0.5) / k - 0.5, cy = oy + (sy + 0.5) / k - 0.5;
            const x = t.a * cx - t.b * cy + t.tx, y = t.b * cx + t.a * cy + t.ty;
            const x0 = Math.floor(x), y0 = Math.floor(y), dx = x - x0, dy = y - y0;
            sum += (1 - dy) * (1 - dx) * px(x0, y0, c) + (1 - dy) * dx * px(x0 + 1, y0, c) + dy * (1 - dx) * px(x0, y0 + 1, c) + dy * dx * px(x0 + 1, y0 + 1, c);
          }
        }
        out[(oy * width + ox) * 3 + c] = sum / (k * k);
      }
    }
  }
  return out;
}

describe('warpAffine and mirror', () => {
  it('gives the tap-by-tap sampling bit for bit, inside the image, across its edges and outside it', () => {
    const img = { data: new Uint8Array(90 * 70 * 3), width: 90, height: 70, format: 'png' as const };
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 53 + (i >> 4)) % 256;
    const cases = [
      { a: 0.6, b: 0, tx: 10.3, ty: 5.7 }, // upsampling, one tap, axis-aligned
      { a: 2.2, b: 0.9, tx: 3.1, ty: -4.2 }, // rotated, 2 taps, over the top edge
      { a: 4.6, b: -1.3, tx: 20, ty: 30 }, // 5 taps, the chip runs off the right and bottom
      { a: 9.5, b: 0.4, tx: -40, ty: -12.5 }, // capped at 8 taps, mostly outside
      { a: 3.4, b: 0, tx: -8.2, ty: 50.5 }, // upright (a landmark crop), 3 taps, over the left and bottom edges
      { a: 2, b: 0, tx: 12, ty: 7 }, // upright, taps on whole pixels
      { a: 1, b: 0, tx: 200, ty: 0 }, // wholly outside: black
    ];
    for (const t of cases) {
      for (const maxTaps of [8, 3]) {
        const got = warpAffine(img as never, t, 24, 20, maxTaps);
        const want = referenceWarp(img, t, 24, 20, maxTaps);
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      }
    }
  });


  it('samples an identity transform exactly and mirrors left-right', () => {
    const data = Buffer.alloc(4 * 3 * 3);
    for (let i = 0; i < data.length; i++) data[i] = i;
    const img = { data, width: 4, height: 3, format: 'png' as const };
    const same = warpAffine(img, { a: 1, b: 0, tx: 0, ty: 0 }, 4, 3);
    expect(Array.from(same)).toEqual(Array.from(data));
    const flipped = mirror(same, 4, 3);
    expect(Array.from(flipped.subarray(0, 3))).toEqual(Array.from(data.subarray(9, 12)));
    expect(Array.from(mirror(flipped, 4, 3))).toEqual(Array.from(data));
  });
});

describe('test-time jitter', () => {
  it('is a fixed list within dlib\'s ranges, and each list extends the shorter ones', () => {
    const j = chipJitters(8);
    expect(chipJitters(8)).toEqual(j);
    expect(chipJitters(3)).toEqual(j.slice(0, 3));
    for (const x of j) {
      expect(Math.abs(x.angle)).toBeLessThanOrEqual((3 * Math.PI) / 180);
      expect(x.scale).toBeGreaterThanOrEqual(0.97);
      expect(x.scale).toBeLessThanOrEqual(1);
      expect(Math.abs(x.dx)).toBeLessThanOrEqual(3);
      expect(Math.abs(x.dy)).toBeLessThanOrEqual(3);
    }
  });

  it('composes with the chip transform: the null jitter changes nothing, a shift moves the chip', () => {
    const t = { a: 1.2, b: 0.3, tx: 40, ty: 25 };
    const same = jitterTransform(t, { angle: 0, scale: 1, dx: 0, dy: 0 });
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(same[k]).toBeCloseTo(t[k], 12);
    // Chip pixel p of the jittered chip is chip pixel p + (dx, dy) of the original one.
    const shifted = jitterTransform(t, { angle: 0, scale: 1, dx: 2, dy: -1 });
    const p = { x: 10, y: 20 }, q = { x: 12, y: 19 };
    expect(shifted.a * p.x - shifted.b * p.y + shifted.tx).toBeCloseTo(t.a * q.x - t.b * q.y + t.tx, 9);
    expect(shifted.b * p.x + shifted.a * p.y + shifted.ty).toBeCloseTo(t.b * q.x + t.a * q.y + t.ty, 9);
    // Rotation and scale keep the chip's centre in place.
    const c = 74.5, r = jitterTransform(t, { angle: 0.05, scale: 0.98, dx: 0, dy: 0 });
    expect(r.a * c - r.b * c + r.tx).toBeCloseTo(t.a * c - t.b * c + t.tx, 9);
    expect(r.b * c + r.a * c + r.ty).toBeCloseTo(t.b * c + t.a * c + t.ty, 9);
  });

  it('makes (1 + jitter) chips per face, doubled by the mirror, the unjittered chip first', () => {
    const data = Buffer.alloc(200 * 200 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const img = { data, width: 200, height: 200, format: 'png' as const };
    const face = Array.from({ length: 68 }, (_, i) => ({ x: 70 + (i % 9) * 8 + Math.sin(i) * 3, y: 60 + Math.floor(i / 9) * 9 + Math.cos(i) * 2 }));
    const plain = faceChips(img, face, { align: 'dlib', subset: 'dlib', mirror: true, jitter: 0 });
    const jittered = faceChips(img, face, { align: 'dlib', subset: 'dlib', mirror: true, jitter: 2 });
    expect(plain).toHaveLength(2);
    expect(jittered).toHaveLength(6);
    expect(Array.from(jittered[0])).toEqual(Array.from(plain[0]));
    expect(Array.from(jittered[1])).toEqual(Array.from(plain[1]));
    expect(Array.from(jittered[3])).toEqual(Array.from(mirror(jittered[2], 150, 150)));
    expect(Array.from(jittered[2])).not.toEqual(Array.from(plain[0]));
    expect(faceChips(img, face, { align: 'dlib', subset: 'dlib', mirror: false, jitter: 3 })).toHaveLength(4);
  });
});
