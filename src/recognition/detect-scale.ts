/**
 * Detection on a bounded number of pixels. The tfjs detectors resize their input to at most
 * 608 px (tiny) or 512 px (SSD) anyway, but they first need the whole image as an int32 tensor,
 * and the padded fallback passes grow it by half again: a 7000x7000 image would need gigabytes
 * inside the wasm heap. Detection therefore runs on a copy whose longer side is at most
 * {@link MAX_DETECT_SIDE}, and its boxes are mapped back; landmarks and descriptors still read
 * the full-resolution image, so a face keeps its detail. Images up to that side are untouched,
 * so the small-image passes (crops, thumbnails) see exactly what they saw before.
 */
import sharp from 'sharp';
import type { RgbImage } from './decode.js';
import { clampBox, type RawDetection } from './detect.js';

/**
 * Longest side, in pixels, of the image the detectors are given. 2048 keeps a face of ~40 px in
 * a 4000 px photo at ~20 px, above what the detectors find at their input sizes anyway, and
 * caps the largest tensor (a 1.5x padded canvas) at ~113 MB.
 */
export const MAX_DETECT_SIDE = 2048;

/** The image to detect on and the factor from its pixels back to the original's. */
export interface DetectionImage {
  image: RgbImage;
  /** Original pixels per detection-image pixel (1 when not scaled). */
  scale: number;
}

/** `img` itself when its longer side is at most `maxSide`, else a copy scaled to fit. */
export async function detectionImage(img: RgbImage, maxSide = MAX_DETECT_SIDE): Promise<DetectionImage> {
  const longer = Math.max(img.width, img.height);
  if (longer <= maxSide) return { image: img, scale: 1 };
  const factor = maxSide / longer;
  const width = Math.max(1, Math.round(img.width * factor));
  const height = Math.max(1, Math.round(img.height * factor));
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 }, limitInputPixels: false })
    .resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { image: { data, width, height, format: img.format }, scale: img.width / width };
}

/** Detections on the scaled image, in the original's pixels (clamped; ones that shrink away are dropped). */
export function scaleDetections(found: RawDetection[], scale: number, width: number, height: number): RawDetection[] {
  if (scale === 1) return found;
  const out: RawDetection[] = [];
  for (const d of found) {
    const box = clampBox(d.box.x * scale, d.box.y * scale, d.box.width * scale, d.box.height * scale, width, height);
    if (box) out.push({ ...d, box });
  }
  return out;
}
