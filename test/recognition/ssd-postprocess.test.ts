/**
 * SSD post-processing as face-api does it: box decoding against the anchors, the class-1
 * sigmoid, and suppression (strictly over the IoU threshold, ties in anchor order, capped).
 */
import { describe, expect, it } from 'vitest';
import { ssdInput } from '../../src/recognition/ort/ssd-detector.js';
import { decodeSsd, ssdNonMaxSuppression } from '../../src/recognition/ort/ssd-postprocess.js';

/** `[ymin, xmin, ymax, xmax]` boxes packed flat. */
const flat = (boxes: number[][]): Float32Array => Float32Array.from(boxes.flat());

describe('decodeSsd', () => {
  it('returns the anchor itself for zero encodings, and the sigmoid of class logit 1', () => {
    const anchors = flat([[0.1, 0.2, 0.5, 0.6]]);
    const { boxes, scores } = decodeSsd(Float32Array.from([0, 0, 0, 0, 9, 0, -9]), anchors);
    expect(Array.from(boxes).map((v) => +v.toFixed(6))).toEqual([0.1, 0.2, 0.5, 0.6]);
    expect(scores[0]).toBeCloseTo(0.5, 6);
  });

  it('shifts by a tenth of the size and scales by exp(e / 5)', () => {
    const anchors = flat([[0, 0, 1, 2]]); // size 1 x 2, centre (0.5, 1)
    const { boxes } = decodeSsd(Float32Array.from([10, 5, 5, 0, 0, 2, 0]), anchors);
    // centre y 0.5 + 1 * 1 = 1.5, half height e * 1 / 2; centre x 1 + 0.5 * 2 = 2, half width 1.
    expect(boxes[0]).toBeCloseTo(1.5 - Math.E / 2, 5);
    expect(boxes[2]).toBeCloseTo(1.5 + Math.E / 2, 5);
    expect(boxes[1]).toBeCloseTo(1, 6);
    expect(boxes[3]).toBeCloseTo(3, 6);
  });

  it('refuses predictions that do not match the anchors', () => {
    expect(() => decodeSsd(new Float32Array(13), new Float32Array(8))).toThrow(RangeError);
  });
});

describe('ssdNonMaxSuppression', () => {
  const boxes = flat([
    [0, 0, 1, 1],
    [0, 0, 1, 0.9], // IoU 0.9 with box 0
    [0, 0.5, 1, 1.5], // IoU 1/3 with box 0
    [2, 2, 3, 3], // apart
  ]);

  it('keeps the best box and drops those overlapping it by more than the threshold', () => {
    expect(ssdNonMaxSuppression(boxes, [0.9, 0.8, 0.7, 0.6], 100, 0.5, 0.3)).toEqual([0, 2, 3]);
  });

  it('keeps an overlap at exactly the threshold, and drops only what is strictly over it', () => {
    // Boxes 0 and 2 overlap by exactly 0.5 / 1.5.
    expect(ssdNonMaxSuppression(boxes, [0.9, 0.8, 0.7, 0.6], 100, 1 / 3, 0.3)).toEqual([0, 2, 3]);
    expect(ssdNonMaxSuppression(boxes, [0.9, 0.8, 0.7, 0.6], 100, 0.3, 0.3)).toEqual([0, 3]);
  });

  it('takes scores strictly over the threshold, best first, ties in anchor order', () => {
    expect(ssdNonMaxSuppression(boxes, [0.3, 0.2, 0.5, 0.5], 100, 0.5, 0.3)).toEqual([2, 3]);
  });

  it('stops at maxOutputSize', () => {
    expect(ssdNonMaxSuppression(boxes, [0.9, 0.8, 0.7, 0.6], 2, 0.5, 0.3)).toEqual([0, 2]);
  });

  it('never suppresses against a box without area', () => {
    const degenerate = flat([[0, 0, 0, 1], [0, 0, 1, 1]]);
    expect(ssdNonMaxSuppression(degenerate, [0.9, 0.8], 100, 0.5, 0.1)).toEqual([0, 1]);
  });
});

describe('ssdInput', () => {
  /** The image framed by `m` pixels of `fill` on every side, as tf.pad frames it. */
  function framed(data: Uint8Array, h: number, w: number, m: number, fill: number): Uint8Array {
    const fw = w + 2 * m;
    const out = new Uint8Array((h + 2 * m) * fw * 3).fill(fill);
    for (let y = 0; y < h; y++) out.set(data.subarray(y * w * 3, (y + 1) * w * 3), ((y + m) * fw + m) * 3);
    return out;
  }

  /**
   * padToSquare (zeros at the bottom or right) and resizeBilinear of `data` written out pixel by
   * pixel, with ssdInput's arithmetic, in channel planes: what its row and column shortcuts must
   * give bit for bit.
   */
  function reference(data: Uint8Array, h: number, w: number, side: number): Float32Array {
    const square = Math.max(h, w);
    const at = (y: number, x: number, c: number): number => (y >= h || x >= w ? 0 : data[(y * w + x) * 3 + c]);
    const out = new Float32Array(side * side * 3);
    const ratio = square / side;
    for (let y = 0; y < side; y++) {
      const top = Math.max(0, Math.floor(ratio * y)), bottom = Math.min(square - 1, Math.ceil(ratio * y));
      const fy = ratio * y - top;
      for (let x = 0; x < side; x++) {
        const left = Math.max(0, Math.floor(ratio * x)), right = Math.min(square - 1, Math.ceil(ratio * x));
        const fx = ratio * x - left;
        for (let c = 0; c < 3; c++) {
          const t = at(top, left, c) + (at(top, right, c) - at(top, left, c)) * fx;
          const b = at(bottom, left, c) + (at(bottom, right, c) - at(bottom, left, c)) * fx;
          out[(c * side + y) * side + x] = t + (b - t) * fy;
        }
      }
    }
    return out;
  }

  it('is padToSquare and resizeBilinear, bit for bit, framed or not', () => {
    // Downscaled (wide, tall, by a ratio that is not a whole number), upscaled, and framed.
    for (const [h, w, m, side] of [[1280, 1920, 0, 512], [150, 97, 0, 64], [61, 37, 9, 48], [20, 30, 0, 64], [70, 23, 5, 48], [44, 44, 10, 32]]) {
      const data = new Uint8Array(h * w * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 3)) % 256;
      const want = reference(framed(data, h, w, m, 200), h + 2 * m, w + 2 * m, side);
      const got = ssdInput(data, h, w, side, m, 200);
      // Byte for byte (a deep equal of ~800k floats takes seconds).
      expect(got.length).toBe(want.length);
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    }
  });

  it('on a framed image gives what it gives on the image framed by hand', () => {
    // Wider, taller, square, and a frame that makes the framed image exactly the input side.
    for (const [h, w, m, side] of [[37, 61, 9, 64], [70, 23, 5, 48], [40, 40, 12, 32], [52, 40, 6, 64], [30, 50, 0, 50]]) {
      const data = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 37 + (i >> 3)) % 256);
      const direct = ssdInput(data, h, w, side, m, 128);
      const byHand = ssdInput(framed(data, h, w, m, 128), h + 2 * m, w + 2 * m, side);
      expect(direct.length).toBe(side * side * 3);
      expect(Array.from(direct)).toEqual(Array.from(byHand));
    }
  });
});
