import { describe, expect, it } from 'vitest';
import { chipTransform, fitSimilarity, mirror, warpAffine, type Point } from '../../src/recognition/align.js';

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
});

describe('warpAffine and mirror', () => {
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
