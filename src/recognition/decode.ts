import fs from 'node:fs/promises';
import sharp, { type Metadata, type Sharp } from 'sharp';
import {
  EmptyImageError,
  ImageError,
  NotAFileError,
  NotAnImageError,
  TooManyPixelsError,
  TruncatedImageError,
  UnsupportedFormatError,
} from './errors.js';

/** The formats we accept. Anything else is refused before sharp sees it. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

/** Default decompression-bomb guard (matches `config.recognition.maxInputPixels`). */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

/** An image as packed 8-bit RGB, rows top to bottom, after EXIF rotation. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
  format: ImageFormat;
}

export interface ImageProbe {
  format: ImageFormat;
  /** Size after EXIF rotation. */
  width: number;
  height: number;
  /** Frames (animated GIF/WebP); 1 for still images. Only the first is ever analysed. */
  pages: number;
}

export interface DecodeOptions {
  /** Largest accepted width x height. Default {@link DEFAULT_MAX_INPUT_PIXELS}. */
  maxInputPixels?: number;
}

function ascii(buf: Buffer, start: number, end: number): string {
  return buf.subarray(start, end).toString('latin1');
}

/**
 * Name the format from its magic bytes. Accepted formats return their name; known formats we
 * refuse throw {@link UnsupportedFormatError}; everything else {@link NotAnImageError}.
 * Sniffing first means libvips never parses formats we do not accept (SVG via librsvg, TIFF...).
 */
export function sniffFormat(buf: Buffer): ImageFormat {
  if (buf.length === 0) throw new EmptyImageError();
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (buf.length >= 6 && /^GIF8[79]a$/.test(ascii(buf, 0, 6))) return 'gif';
  if (buf.length >= 12 && ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return 'webp';
  if (buf.length >= 4 && (ascii(buf, 0, 4) === 'II*\0' || ascii(buf, 0, 4) === 'MM\0*')) throw new UnsupportedFormatError('tiff');
  if (buf.length >= 2 && ascii(buf, 0, 2) === 'BM') throw new UnsupportedFormatError('bmp');
  if (buf.length >= 12 && ascii(buf, 4, 8) === 'ftyp') {
    const brand = ascii(buf, 8, 12);
    throw new UnsupportedFormatError(/^avi[fs]$/.test(brand) ? 'avif' : 'heif');
  }
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0x00000100) throw new UnsupportedFormatError('ico');
  if (buf.length >= 4 && ascii(buf, 0, 4) === '8BPS') throw new UnsupportedFormatError('psd');
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0xff0aff0a >>> 0) throw new UnsupportedFormatError('jxl');
  if (buf.length >= 12 && buf.readUInt32BE(0) === 0x0000000c && ascii(buf, 4, 8) === 'JXL ') throw new UnsupportedFormatError('jxl');
  // SVG is text: look for the root element near the start, past any BOM, XML prolog or comments.
  const head = ascii(buf, 0, Math.min(buf.length, 1024)).toLowerCase();
  if (/^(\ufeff|\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*|<!doctype[^>]*>\s*)*<svg[\s>]/.test(head)) {
    throw new UnsupportedFormatError('svg');
  }
  if (/^\s*%pdf-/.test(head)) throw new UnsupportedFormatError('pdf');
  throw new NotAnImageError();
}

const JPEG_EOI = Buffer.from([0xff, 0xd9]);

/**
 * Whether the file's structure is complete, without decoding pixels: JPEG segments up to the
 * first scan and an end-of-image marker after it (entropy-coded data cannot contain FF D9);
 * PNG chunks that fit the buffer up to IEND; WebP's RIFF size. GIF returns `undefined`
 * (its structure needs a real parse; callers decode it instead). Cheap enough for the web tier.
 */
export function isStructurallyComplete(buf: Buffer, format: ImageFormat): boolean | undefined {
  if (format === 'jpeg') {
    let i = 2;
    while (i < buf.length) {
      if (buf[i] !== 0xff) return false;
      while (i < buf.length && buf[i] === 0xff) i++; // fill bytes
      const marker = buf[i];
      if (marker === undefined) return false;
      if (marker === 0xda) return buf.indexOf(JPEG_EOI, i) !== -1;
      if (marker === 0xd9) return false; // tables only, no image
      if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        i++;
        continue;
      }
      if (i + 2 >= buf.length) return false;
      i += 1 + buf.readUInt16BE(i + 1);
    }
    return false;
  }
  if (format === 'png') {
    let i = 8;
    while (i + 12 <= buf.length) {
      const len = buf.readUInt32BE(i);
      const type = buf.toString('latin1', i + 4, i + 8);
      i += 12 + len;
      if (i > buf.length) return false;
      if (type === 'IEND') return true;
    }
    return false;
  }
  if (format === 'webp') return buf.length >= 12 && buf.readUInt32LE(4) + 8 <= buf.length;
  return undefined;
}

function truncated(format: ImageFormat): TruncatedImageError {
  return new TruncatedImageError(`The ${format.toUpperCase()} image is truncated (its data ends early); upload the complete file again.`);
}

/** Turn a sharp/libvips failure into the typed error a user can act on. */
function mapSharpError(err: unknown, format: ImageFormat, maxInputPixels: number, dims?: { width?: number; height?: number }): ImageError {
  if (err instanceof ImageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new TooManyPixelsError(dims?.width, dims?.height, maxInputPixels, { cause: err });
  // With the magic bytes right, any other decoder failure means the data stops early or is damaged.
  return new TruncatedImageError(`The ${format.toUpperCase()} image is truncated or corrupt (${message.trim()}); upload the complete file again.`, {
    cause: err,
  });
}

function pipeline(buf: Buffer, maxInputPixels: number): Sharp {
  // failOn 'truncated' turns libvips' warnings about early EOF into errors, while still
  // tolerating harmless quirks (odd EXIF, extra bytes after the end marker). pages: 1 keeps
  // only the first frame of an animated GIF/WebP. sequentialRead: we read every row once.
  return sharp(buf, { failOn: 'truncated', limitInputPixels: maxInputPixels, pages: 1, sequentialRead: true });
}

/** Cheap header read: format, rotated size, frames. Throws TooManyPixelsError before any decode. */
async function header(buf: Buffer, format: ImageFormat, maxInputPixels: number): Promise<ImageProbe> {
  let meta: Metadata;
  try {
    // limitInputPixels false here: metadata must succeed on a bomb so we can report its size.
    meta = await sharp(buf, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    throw mapSharpError(err, format, maxInputPixels);
  }
  if (!meta.width || !meta.height) throw new TruncatedImageError();
  // EXIF orientations 5-8 swap width and height.
  const swap = (meta.orientation ?? 1) >= 5;
  const width = swap ? meta.height : meta.width;
  const height = swap ? meta.width : meta.height;
  const frameHeight = meta.pageHeight ?? meta.height;
  if (meta.width * frameHeight > maxInputPixels) throw new TooManyPixelsError(width, height, maxInputPixels);
  return { format, width, height, pages: meta.pages ?? 1 };
}

/**
 * Decode an uploaded image to packed RGB: sniff the magic bytes, refuse bombs
 * (`maxInputPixels`, default 50 M), apply EXIF rotation, keep the first frame of an animation,
 * flatten alpha and greyscale to 3-channel sRGB. Throws only {@link ImageError} subclasses.
 */
export async function decodeImage(buf: Buffer, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const format = sniffFormat(buf);
  const probe = await header(buf, format, maxInputPixels);
  if (isStructurallyComplete(buf, format) === false) throw truncated(format);
  try {
    const { data, info } = await pipeline(buf, maxInputPixels)
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new TruncatedImageError(`Decoded ${info.channels} channels instead of 3.`);
    return { data, width: info.width, height: info.height, format };
  } catch (err) {
    throw mapSharpError(err, format, maxInputPixels, probe);
  }
}

/**
 * Validate an upload without running the model: format, rotated size and frame count, with the
 * same typed errors as {@link decodeImage}, including truncation. JPEG, PNG and WebP are checked
 * structurally (header plus a scan for the end markers, well under a millisecond for a small
 * image); GIF is decoded. Data that is complete but corrupt inside is only caught by the decode.
 */
export async function probeImage(buf: Buffer, options: DecodeOptions = {}): Promise<ImageProbe> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const format = sniffFormat(buf);
  const probe = await header(buf, format, maxInputPixels);
  const complete = isStructurallyComplete(buf, format);
  if (complete === false) throw truncated(format);
  if (complete === undefined) {
    try {
      await pipeline(buf, maxInputPixels).raw().toBuffer();
    } catch (err) {
      throw mapSharpError(err, format, maxInputPixels, probe);
    }
  }
  return probe;
}

/**
 * Read an image file. A directory, a missing path or anything but a regular file throws
 * {@link NotAFileError}; the bytes themselves are checked later by {@link decodeImage}.
 */
export async function readImageFile(file: string): Promise<Buffer> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new NotAFileError(file, reason, { cause: err });
  }
  if (stat.isDirectory()) throw new NotAFileError(file, 'it is a directory; pass an image file inside it');
  if (!stat.isFile()) throw new NotAFileError(file, 'it is not a regular file');
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new NotAFileError(file, (err as Error).message, { cause: err });
  }
}
