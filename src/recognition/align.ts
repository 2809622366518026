/**
 * Face alignment as dlib does it (`get_face_chip_details` + `extract_image_chip`): a least-squares
 * similarity transform of landmarks onto dlib's mean face, then a 150x150 chip with 25% padding.
 * The descriptor net was trained on exactly such chips, so feeding it anything else (a plain box
 * crop) costs accuracy. The jaw line is never fitted (it moves with pose); by default the
 * eyebrows and the lower lip are left out too, as dlib does for its 68-point model (they move
 * with expression).
 */
import type { RgbImage } from './decode.js';
import { seededRandom } from '../random.js';

export interface Point {
  x: number;
  y: number;
}

/** `image = A * chip + t` with `A = [[a, -b], [b, a]]`: rotation, uniform scale, translation. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** dlib's mean face shape (`get_face_chip_details`), landmarks 17..67 in a unit square. */
const MEAN_FACE_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127,
  0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647,
  0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159,
  0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_FACE_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009,
  0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077,
  0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233,
  0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

/**
 * Which landmarks the similarity fit uses. `dlib` (default): dlib's own subset for the 68-point
 * model, landmarks 27-54 and 60-64 (nose, eyes, upper lip and mouth corners). `all51`: 17-67,
 * eyebrows and lower lip included.
 */
export type LandmarkSubset = 'dlib' | 'all51';

function fitted(i: number, subset: LandmarkSubset): boolean {
  if (subset === 'all51') return true;
  return !((i >= 17 && i <= 26) || (i >= 55 && i <= 59) || i >= 65);
}

/** Chip side the descriptor net expects. */
export const CHIP_SIZE = 150;
/** dlib's padding for face recognition chips: 25% of the face width on each side. */
export const CHIP_PADDING = 0.25;

/**
 * Least-squares similarity transform taking `from` points onto `to` points (Umeyama without
 * reflection, closed form for 2-D).
 */
export function fitSimilarity(from: Point[], to: Point[]): Similarity {
  const n = from.length;
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i].x; fy += from[i].y; tx += to[i].x; ty += to[i].y;
  }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let sxx = 0, sxy = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const ux = from[i].x - fx, uy = from[i].y - fy;
    const vx = to[i].x - tx, vy = to[i].y - ty;
    sxx += ux * vx + uy * vy;
    sxy += ux * vy - uy * vx;
    norm += ux * ux + uy * uy;
  }
  const a = sxx / norm;
  const b = sxy / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/** The chip-to-image transform for a face, from its 68 landmarks in image pixels. */
export function chipTransform(landmarks: Point[], size = CHIP_SIZE, padding = CHIP_PADDING, subset: LandmarkSubset = 'dlib'): Similarity {
  if (landmarks.length !== 68) throw new RangeError(`expected 68 landmarks, got ${landmarks.length}`);
  const targets = meanFacePoints(size, padding, subset);
  return fitSimilarity(
    targets.map((t) => t.point),
    targets.map((t) => landmarks[t.index]),
  );
}

/**
 * dlib's chip template for its 5-point model (`get_face_chip_details`), in the unit square:
 * the outer and inner corners of the eye on the image's right, the same of the eye on its left,
 * and the base of the nose, in the model's order.
 */
const TEMPLATE_5: readonly Point[] = [
  { x: 0.8595674595992, y: 0.2134981538014 },
  { x: 0.6460604764104, y: 0.2289674387677 },
  { x: 0.1205750620789, y: 0.2137274526848 },
  { x: 0.3340850613712, y: 0.2290642403242 },
  { x: 0.4901123135679, y: 0.6277975316475 },
];

/** The 68-point landmarks nearest the 5-point model's, in its order: 45, 42, 36, 39 (eye corners), 33 (nose base). */
export const FIVE_FROM_68 = [45, 42, 36, 39, 33] as const;

/**
 * The 5 landmarks results show, from the 68: the centre of the eye on the image's left (points
 * 36-41), of the eye on its right (42-47), the nose tip (30), and the mouth corners on the image's
 * left (48) and right (54).
 */
export function fiveLandmarks(lm: Point[]): Point[] {
  const centre = (from: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i < from + 6; i++) {
      x += lm[i].x; y += lm[i].y;
    }
    return { x: x / 6, y: y / 6 };
  };
  return [centre(36), centre(42), lm[30], lm[48], lm[54]].map((p) => ({ x: Math.round(p.x * 10) / 10, y: Math.round(p.y * 10) / 10 }));
}

/** The chip-to-image transform for a face from dlib's 5 landmarks (see {@link TEMPLATE_5}). */
export function chipTransform5(points: Point[], size = CHIP_SIZE, padding = CHIP_PADDING): Similarity {
  if (points.length !== 5) throw new RangeError(`expected 5 landmarks, got ${points.length}`);
  return fitSimilarity(
    TEMPLATE_5.map((p) => ({ x: ((padding + p.x) / (2 * padding + 1)) * size, y: ((padding + p.y) / (2 * padding + 1)) * size })),
    points,
  );
}

/**
 * Where dlib's mean face puts each fitted landmark in a `size` chip with `padding`, with the
 * landmark's index (17..67) in the 68-point scheme.
 */
export function meanFacePoints(size = CHIP_SIZE, padding = CHIP_PADDING, subset: LandmarkSubset = 'dlib'): Array<{ index: number; point: Point }> {
  const out: Array<{ index: number; point: Point }> = [];
  for (let i = 17; i < 68; i++) {
    if (!fitted(i, subset)) continue;
    out.push({
      index: i,
      point: {
        x: ((padding + MEAN_FACE_X[i - 17]) / (2 * padding + 1)) * size,
        y: ((padding + MEAN_FACE_Y[i - 17]) / (2 * padding + 1)) * size,
      },
    });
  }
  return out;
}

/**
 * Sample `out` (w x h, RGB float 0..255) from `img` through `t` (output pixel -> image pixel),
 * bilinearly; pixels outside the image are black, as in dlib. When one output pixel covers
 * several image pixels (a large face), it averages k x k bilinear taps across its footprint
 * so the chip is not aliased, much as dlib's pyramid does (k at most `maxTaps`, default 8).
 * Every value of the chip is written, into `out` from `offset` (default: a new array).
 */
export function warpAffine(img: RgbImage, t: Similarity, width: number, height: number, maxTaps = 8, out: Float32Array = new Float32Array(width * height * 3), offset = 0): Float32Array {
  const scale = Math.hypot(t.a, t.b);
  const k = Math.max(1, Math.min(maxTaps, Math.round(scale)));
  const { data, width: iw, height: ih } = img;
  const { a, b: tb, tx, ty } = t;
  const taps = k * k;
  const row = iw * 3;
  // Sub-cell centres, (s + 0.5) / k, and the arithmetic below in the order it always had, so
  // chips are bit for bit what the straightforward loop gave (the descriptors are pinned to them):
  // a tap at chip (cx, cy) samples image (a*cx - tb*cy + tx, tb*cx + a*cy + ty), and the products
  // of cx are the same for every row of the chip, those of cy for every column, so each is formed once.
  const sub = new Float64Array(k);
  for (let s = 0; s < k; s++) sub[s] = (s + 0.5) / k;
  const acx = new Float64Array(width * k), bcx = new Float64Array(width * k);
  for (let ox = 0, i = 0; ox < width; ox++) {
    for (let sx = 0; sx < k; sx++, i++) {
      const cx = ox + sub[sx] - 0.5;
      acx[i] = a * cx;
      bcx[i] = tb * cx;
    }
  }
  const acy = new Float64Array(k), bcy = new Float64Array(k);
  for (let oy = 0; oy < height; oy++) {
    for (let sy = 0; sy < k; sy++) {
      const cy = oy + sub[sy] - 0.5;
      acy[sy] = a * cy;
      bcy[sy] = tb * cy;
    }
    for (let ox = 0; ox < width; ox++) {
      let r = 0, g = 0, b = 0;
      for (let sy = 0; sy < k; sy++) {
        const by = bcy[sy], ay = acy[sy];
        for (let sx = 0, i = ox * k; sx < k; sx++, i++) {
          // Tap at the centre of each sub-cell of the output pixel's footprint: bilinear.
          const x = acx[i] - by + tx;
          const y = bcx[i] + ay + ty;
          const x0 = Math.floor(x), y0 = Math.floor(y);
          const dx = x - x0, dy = y - y0;
          if (x0 >= 0 && y0 >= 0 && x0 < iw - 1 && y0 < ih - 1) {
            // All four pixels inside: the sums of the general case below, without its checks.
            const wy = 1 - dy;
            const w00 = wy * (1 - dx), w01 = wy * dx, w10 = dy * (1 - dx), w11 = dy * dx;
            const o = (y0 * iw + x0) * 3, p = o + row;
            r += w00 * data[o] + w01 * data[o + 3] + w10 * data[p] + w11 * data[p + 3];
            g += w00 * data[o + 1] + w01 * data[o + 4] + w10 * data[p + 1] + w11 * data[p + 4];
            b += w00 * data[o + 2] + w01 * data[o + 5] + w10 * data[p + 2] + w11 * data[p + 5];
            continue;
          }
          let sr = 0, sg = 0, sb = 0;
          if (y0 >= 0 && y0 < ih) {
            const wy = 1 - dy;
            if (x0 >= 0 && x0 < iw) {
              const w = wy * (1 - dx);
              const o = (y0 * iw + x0) * 3;
              sr += w * data[o]; sg += w * data[o + 1]; sb += w * data[o + 2];
            }
            if (x0 + 1 >= 0 && x0 + 1 < iw) {
              const w = wy * dx;
              const o = (y0 * iw + x0 + 1) * 3;
              sr += w * data[o]; sg += w * data[o + 1]; sb += w * data[o + 2];
            }
          }
          if (y0 + 1 >= 0 && y0 + 1 < ih) {
            const wy = dy;
            if (x0 >= 0 && x0 < iw) {
              const w = wy * (1 - dx);
              const o = ((y0 + 1) * iw + x0) * 3;
              sr += w * data[o]; sg += w * data[o + 1]; sb += w * data[o + 2];
            }
            if (x0 + 1 >= 0 && x0 + 1 < iw) {
              const w = wy * dx;
              const o = ((y0 + 1) * iw + x0 + 1) * 3;
              sr += w * data[o]; sg += w * data[o + 1]; sb += w * data[o + 2];
            }
          }
          r += sr; g += sg; b += sb;
        }
      }
      const o = offset + (oy * width + ox) * 3;
      out[o] = r / taps; out[o + 1] = g / taps; out[o + 2] = b / taps;
    }
  }
  return out;
}

/** Left-right mirror of a packed RGB float image (`width * height * 3` values from `from`), into `out` from `offset`. */
export function mirror(pixels: Float32Array, width: number, height: number, out: Float32Array = new Float32Array(width * height * 3), offset = 0, from = 0): Float32Array {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = from + (y * width + x) * 3, d = offset + (y * width + (width - 1 - x)) * 3;
      out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2];
    }
  }
  return out;
}

/** An axis-aligned square crop as a similarity transform (output pixel -> image pixel). */
export function squareCrop(cx: number, cy: number, side: number, outSize: number): Similarity {
  const s = side / outSize;
  return { a: s, b: 0, tx: cx - side / 2 + s / 2 - 0.5, ty: cy - side / 2 + s / 2 - 0.5 };
}

/** A perturbation of the chip: rotation (radians) and scale about the chip's centre, then a shift in chip pixels. */
export interface ChipJitter {
  angle: number;
  scale: number;
  dx: number;
  dy: number;
}

/**
 * The first `n` test-time jitters, a fixed list drawn with dlib's `jitter_image` ranges:
 * rotation within +-3 degrees, a crop of 0.97-1.0 of the chip, a shift within +-2% of its side.
 * (dlib draws them at random per call and flips half of them; we pair each with its mirror.)
 */
export function chipJitters(n: number, size = CHIP_SIZE): ChipJitter[] {
  const r = seededRandom(1);
  return Array.from({ length: n }, () => ({
    angle: ((r() * 6 - 3) * Math.PI) / 180,
    scale: 0.97 + 0.03 * r(),
    dx: (r() * 0.04 - 0.02) * size,
    dy: (r() * 0.04 - 0.02) * size,
  }));
}

/** `t` (chip -> image) after jittering the chip: the jitter maps jittered-chip pixels onto chip pixels. */
export function jitterTransform(t: Similarity, j: ChipJitter, size = CHIP_SIZE): Similarity {
  const c = (size - 1) / 2;
  const ja = j.scale * Math.cos(j.angle), jb = j.scale * Math.sin(j.angle);
  const jtx = c + j.dx - (ja * c - jb * c), jty = c + j.dy - (jb * c + ja * c);
  return { a: t.a * ja - t.b * jb, b: t.a * jb + t.b * ja, tx: t.a * jtx - t.b * jty + t.tx, ty: t.b * jtx + t.a * jty + t.ty };
}
