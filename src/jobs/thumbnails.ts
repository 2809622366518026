import sharp from 'sharp';
import { errorInfo } from '../errors.js';
import type { Logger } from '../log.js';
import type { BlobStore } from '../store/ports.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../recognition/decode.js';
import type { Box } from '../recognition/types.js';

/** Side of a face thumbnail, px: enough for a gallery tile at 2x, a few kB as JPEG. */
export const THUMBNAIL_SIZE = 112;

/**
 * Blob key of a face's thumbnail. Derived from the face id so that no gallery schema carries it;
 * whoever deletes a face deletes this key too.
 */
export function thumbnailKey(faceId: string): string {
  return `thumbnails/${faceId}.jpg`;
}

/**
 * A square JPEG of the face in `box` (EXIF-rotated pixels, as the engine reports boxes), with a
 * margin of a quarter of the box on each side, clipped to the image.
 */
export async function faceThumbnail(image: Buffer, box: Box, options: { maxInputPixels?: number; size?: number } = {}): Promise<Buffer> {
  const size = options.size ?? THUMBNAIL_SIZE;
  const rotated = sharp(image, { limitInputPixels: options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS, pages: 1 }).rotate();
  // extract() would run before rotate() in one pipeline; decode once, rotated, then crop.
  const { data, info } = await rotated.raw().toBuffer({ resolveWithObject: true });
  const side = Math.max(box.width, box.height) * 1.5;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const left = Math.max(0, Math.floor(cx - side / 2));
  const top = Math.max(0, Math.floor(cy - side / 2));
  const width = Math.max(1, Math.min(info.width - left, Math.ceil(side)));
  const height = Math.max(1, Math.min(info.height - top, Math.ceil(side)));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .extract({ left, top, width, height })
    .resize(size, size, { fit: 'cover' })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 80, mozjpeg: true })
    .toBuffer();
}

/**
 * Make a face's thumbnail and store it under `key`. Best effort: a face without a thumbnail is
 * still enrolled or tracked (the console shows a placeholder), so a failure is logged with
 * `about`, not thrown. Idempotent: a repeat writes the same key again.
 */
export async function storeThumbnail(
  deps: { blobs: BlobStore; log: Logger },
  key: string,
  face: { image: Buffer; box: Box; maxInputPixels?: number },
  about: Record<string, string>,
): Promise<boolean> {
  try {
    const jpeg = await faceThumbnail(face.image, face.box, { maxInputPixels: face.maxInputPixels });
    await deps.blobs.put(key, jpeg, { contentType: 'image/jpeg' });
    return true;
  } catch (err) {
    deps.log.warn({ err: errorInfo(err), ...about }, 'face thumbnail not stored');
    return false;
  }
}

/** An enrolled face's thumbnail (see {@link storeThumbnail}). */
export function storeFaceThumbnail(deps: { blobs: BlobStore; log: Logger }, face: { faceId: string; image: Buffer; box: Box; maxInputPixels?: number }): Promise<boolean> {
  return storeThumbnail(deps, thumbnailKey(face.faceId), face, { faceId: face.faceId });
}
