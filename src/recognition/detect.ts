/**
 * Face detection strategy: a chain of detector passes, stopping at the first pass that finds a
 * face. Two stock detectors ship with face-api: SSD MobileNet v1 (fixed 512x512 input, ~300 ms
 * on wasm, good on group shots and large photos) and the Tiny Face Detector (configurable input,
 * ~35 ms at 320, looser boxes). Neither finds a face that fills the whole frame (tight crops such
 * as 64x64 or 150x150 face thumbnails): they were trained on faces with surroundings. The
 * fallback passes paste the image onto a larger grey canvas so the face has context again.
 * Measurements behind these choices are in docs/recognition.md.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { FaceRuntime } from './backend.js';
import type { RgbImage } from './decode.js';
import type { Box } from './types.js';

export interface DetectionPass {
  detector: 'ssd' | 'tiny';
  /** Tiny detector input side (multiple of 32). Ignored by SSD (always 512). */
  inputSize?: number;
  /** Smallest detection score kept. */
  minScore: number;
  /** Canvas margin on every side, as a fraction of the image's longer side (0 = image as is). */
  pad: number;
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
  /** Index of the pass that found it, for benchmarks. */
  pass: number;
}

/** Grey, not black: a black frame reads as a dark background, grey as "nothing here". */
const CANVAS_FILL = 128;
/** Clamped boxes smaller than this are dropped: too few pixels for landmarks. */
const MIN_FACE_SIDE = 8;

/** The default strategy: SSD first for photos, the fast tiny detector first for small images. */
export const DEFAULT_STRATEGY: DetectionStrategy = {
  name: 'cascade',
  smallSide: 400,
  small: [
    { detector: 'tiny', inputSize: 320, minScore: 0.5, pad: 0 },
    { detector: 'tiny', inputSize: 320, minScore: 0.4, pad: 0.5 },
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

function clampBox(x: number, y: number, w: number, h: number, width: number, height: number): Box | null {
  const x0 = Math.max(0, x), y0 = Math.max(0, y);
  const x1 = Math.min(width, x + w), y1 = Math.min(height, y + h);
  if (x1 - x0 < MIN_FACE_SIDE || y1 - y0 < MIN_FACE_SIDE) return null;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * Run the strategy's passes on `pixels` (an int32 [h, w, 3] tensor of `img`) until one finds a
 * face. Returned boxes are in original-image pixels, clamped; the input tensor is not disposed.
 */
export async function detectFaces(rt: FaceRuntime, img: RgbImage, pixels: Tf.Tensor3D, strategy: DetectionStrategy): Promise<RawDetection[]> {
  const { faceapi, tf } = rt;
  const passes = Math.max(img.width, img.height) <= strategy.smallSide ? strategy.small : strategy.large;
  for (let p = 0; p < passes.length; p++) {
    const pass = passes[p];
    const margin = Math.round(pass.pad * Math.max(img.width, img.height));
    const input = margin > 0 ? tf.pad(pixels, [[margin, margin], [margin, margin], [0, 0]], CANVAS_FILL) : pixels;
    try {
      const found =
        pass.detector === 'ssd'
          ? await faceapi.nets.ssdMobilenetv1.locateFaces(input as never, new faceapi.SsdMobilenetv1Options({ minConfidence: pass.minScore, maxResults: 100 }))
          : await faceapi.nets.tinyFaceDetector.locateFaces(input as never, new faceapi.TinyFaceDetectorOptions({ inputSize: pass.inputSize ?? 416, scoreThreshold: pass.minScore }));
      const out: RawDetection[] = [];
      for (const d of found) {
        const box = clampBox(d.box.x - margin, d.box.y - margin, d.box.width, d.box.height, img.width, img.height);
        if (box) out.push({ box, score: d.score, pass: p });
      }
      if (out.length > 0) return out;
    } finally {
      if (input !== pixels) input.dispose();
    }
  }
  return [];
}
