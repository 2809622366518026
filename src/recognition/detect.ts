/**
 * Face detection strategy: a chain of detector passes, stopping at the first pass that finds a
 * face, except that a joining pass always runs and adds the faces it alone finds. Two stock
 * detectors ship with face-api: SSD MobileNet v1 (fixed 512x512 input, ~300 ms on wasm, good on
 * group shots and large photos) and the Tiny Face Detector (configurable input, ~35 ms at 320,
 * looser boxes). Neither finds a face that fills the whole frame (tight crops such
 * as 64x64 or 150x150 face thumbnails): they were trained on faces with surroundings. The
 * fallback passes paste the image onto a larger grey canvas so the face has context again.
 * Measurements behind these choices are in docs/recognition.md.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { FaceRuntime } from './backend.js';
import type { RgbImage } from './decode.js';
import type { SsdLocator } from './ort/ssd-detector.js';
import type { TinyLocator } from './ort/tiny-detector.js';
import type { Box } from './types.js';

export interface DetectionPass {
  detector: 'ssd' | 'tiny';
  /** Tiny detector input side (multiple of 32). Ignored by SSD (always 512). */
  inputSize?: number;
  /** Smallest detection score kept. */
  minScore: number;
  /** Canvas margin on every side, as a fraction of the image's longer side (0 = image as is). */
  pad: number;
  /**
   * Runs even when earlier passes found faces, and adds each face it finds that is none of
   * theirs ({@link sameFace}). Default false: a pass runs only while nothing is found.
   */
  join?: boolean;
}

export interface DetectionStrategy {
  name: string;
  /** Passes for images whose longer side is at most `smallSide` pixels (crops, thumbnails). */
  small: DetectionPass[];
  /** Passes for larger images (photos, group shots). */
  large: DetectionPass[];
  smallSide: number;
}

export interface RawDetection {
  /** In original-image pixels, clamped to the image. */
  box: Box;
  score: number;
  /** Index of the pass that found it, for benchmarks; -1 for dlib's detector (`dlib-ensemble`). */
  pass: number;
}

/** Grey, not black: a black frame reads as a dark background, grey as "nothing here". */
const CANVAS_FILL = 128;
/** Clamped boxes smaller than this are dropped: too few pixels for landmarks. */
const MIN_FACE_SIDE = 8;
/** Two boxes that overlap at least this much (IoU) frame the same face ({@link sameFace}). */
export const SAME_FACE_IOU = 0.3;
/**
 * A box this much inside another (of its own area) frames the same face, whatever the IoU: two
 * detectors frame a face differently, and a loose box can hold a tight one whole (LFW's
 * George_HW_Bush_0002: a 250x198 box around a 114x115 one, IoU 0.26).
 */
export const SAME_FACE_COVERED = 0.5;

/** The default strategy: SSD first for photos, the fast tiny detector first for small images. */
export const DEFAULT_STRATEGY: DetectionStrategy = {
  name: 'cascade',
  smallSide: 400,
  small: [
    { detector: 'tiny', inputSize: 320, minScore: 0.5, pad: 0 },
    // Always runs: the padded canvas finds faces pass 0 misses next to one it found (on LFW, the
    // centred person in 9 of 7,701 images, where pass 0 had found only a neighbour).
    { detector: 'tiny', inputSize: 320, minScore: 0.4, pad: 0.5, join: true },
    { detector: 'ssd', minScore: 0.3, pad: 0.5 },
    { detector: 'tiny', inputSize: 416, minScore: 0.2, pad: 0.25 },
    // Last resort, only when every pass above found nothing: a coarse grid suits a face that
    // fills most of the frame (LFW's Piers_Sellers_0001: 0.59 here, nothing above).
    { detector: 'tiny', inputSize: 224, minScore: 0.4, pad: 0 },
  ],
  large: [
    { detector: 'ssd', minScore: 0.5, pad: 0 },
    { detector: 'tiny', inputSize: 608, minScore: 0.5, pad: 0 },
    { detector: 'ssd', minScore: 0.3, pad: 0.25 },
  ],
};

/** The stock pipeline, for benchmarks: one tiny pass at 320 and nothing else. */
export const NAIVE_STRATEGY: DetectionStrategy = {
  name: 'tiny-320',
  smallSide: Number.POSITIVE_INFINITY,
  small: [{ detector: 'tiny', inputSize: 320, minScore: 0.5, pad: 0 }],
  large: [],
};

/** SSD alone, for benchmarks. */
export const SSD_STRATEGY: DetectionStrategy = {
  name: 'ssd',
  smallSide: 0,
  small: [],
  large: [{ detector: 'ssd', minScore: 0.5, pad: 0 }],
};

/** A box clamped to the image, or null when a side would be under 8 px. */
export function clampBox(x: number, y: number, w: number, h: number, width: number, height: number): Box | null {
  const x0 = Math.max(0, x), y0 = Math.max(0, y);
  const x1 = Math.min(width, x + w), y1 = Math.min(height, y + h);
  if (x1 - x0 < MIN_FACE_SIDE || y1 - y0 < MIN_FACE_SIDE) return null;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Area two boxes share, 0 when they do not touch. */
function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : w * h;
}

/** IoU of two boxes: intersection over union, 0 when they do not touch. */
export function iou(a: Box, b: Box): number {
  const inner = intersection(a, b);
  return inner === 0 ? 0 : inner / (a.width * a.height + b.width * b.height - inner);
}

/** Share of `inner`'s area that lies inside `outer`. */
export function coveredShare(inner: Box, outer: Box): number {
  return intersection(inner, outer) / (inner.width * inner.height);
}

/** Whether two boxes frame the same face: IoU {@link SAME_FACE_IOU}, or one at least {@link SAME_FACE_COVERED} inside the other. */
export function sameFace(a: Box, b: Box): boolean {
  return iou(a, b) >= SAME_FACE_IOU || coveredShare(a, b) >= SAME_FACE_COVERED || coveredShare(b, a) >= SAME_FACE_COVERED;
}

/**
 * Run the strategy's passes on `img`: each pass runs while no face is found, and a `join` pass
 * runs regardless and adds the faces it alone found. `pixels` is an int32 [h, w, 3] tensor of
 * `img` (not disposed here), or null: then one is made only if a pass needs it, and disposed.
 * ONNX Runtime's SSD and tiny detector read `img`'s bytes directly (padded passes included)
 * and need none.
 * Returned boxes are in original-image pixels, clamped.
 */
export async function detectFaces(rt: FaceRuntime, img: RgbImage, pixels: Tf.Tensor3D | null, strategy: DetectionStrategy): Promise<RawDetection[]> {
  const { faceapi, tf } = rt;
  const passes = Math.max(img.width, img.height) <= strategy.smallSide ? strategy.small : strategy.large;
  const out: RawDetection[] = [];
  const made: Tf.Tensor3D[] = [];
  const tensor = (): Tf.Tensor3D => {
    if (pixels) return pixels;
    if (made.length === 0) made.push(tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32'));
    return made[0];
  };
  const ssdRgb = (faceapi.nets.ssdMobilenetv1 as unknown as Partial<SsdLocator>).locateFacesRgb;
  const tinyRgb = (faceapi.nets.tinyFaceDetector as unknown as Partial<TinyLocator>).locateFacesRgb;
  try {
    for (let p = 0; p < passes.length; p++) {
      const pass = passes[p];
      if (out.length > 0 && !pass.join) continue;
      const margin = Math.round(pass.pad * Math.max(img.width, img.height));
      let found: Array<{ box: Box; score: number }>;
      if (pass.detector === 'ssd' && ssdRgb) {
        found = await ssdRgb(img, margin, CANVAS_FILL, { minConfidence: pass.minScore, maxResults: 100 });
      } else if (pass.detector === 'tiny' && tinyRgb) {
        found = await tinyRgb.call(faceapi.nets.tinyFaceDetector, img, margin, CANVAS_FILL, { inputSize: pass.inputSize ?? 416, scoreThreshold: pass.minScore });
      } else {
        const input = margin > 0 ? tf.pad(tensor(), [[margin, margin], [margin, margin], [0, 0]], CANVAS_FILL) : tensor();
        try {
          found =
            pass.detector === 'ssd'
              ? await faceapi.nets.ssdMobilenetv1.locateFaces(input as never, new faceapi.SsdMobilenetv1Options({ minConfidence: pass.minScore, maxResults: 100 }))
              : await faceapi.nets.tinyFaceDetector.locateFaces(input as never, new faceapi.TinyFaceDetectorOptions({ inputSize: pass.inputSize ?? 416, scoreThreshold: pass.minScore }));
        } finally {
          if (margin > 0) input.dispose();
        }
      }
      const before = out.slice();
      for (const d of found) {
        const box = clampBox(d.box.x - margin, d.box.y - margin, d.box.width, d.box.height, img.width, img.height);
        if (box && !before.some((e) => sameFace(e.box, box))) out.push({ box, score: d.score, pass: p });
      }
    }
  } finally {
    for (const t of made) t.dispose();
  }
  return out;
}
