import fs from 'node:fs/promises';
import zlib from 'node:zlib';
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

/** What the probe needs from an image's header, as sharp's `metadata()` reports it. */
interface HeaderFields {
  width: number;
  height: number;
  /** EXIF orientation, 1 when absent. */
  orientation: number;
  /** Height of one frame (animations); `height` for still images. */
  pageHeight: number;
  pages: number;
}

/** Turn the header's fields into the probe, refusing bombs. */
function probeFrom(format: ImageFormat, fields: HeaderFields, maxInputPixels: number): ImageProbe {
  // EXIF orientations 5-8 swap width and height.
  const swap = fields.orientation >= 5;
  const width = swap ? fields.height : fields.width;
  const height = swap ? fields.width : fields.height;
  if (fields.width * fields.pageHeight > maxInputPixels) throw new TooManyPixelsError(width, height, maxInputPixels);
  return { format, width, height, pages: fields.pages };
}

/** Cheap header read by sharp: format, rotated size, frames. Throws TooManyPixelsError before any decode. */
async function header(buf: Buffer, format: ImageFormat, maxInputPixels: number): Promise<ImageProbe> {
  let meta: Metadata;
  try {
    // limitInputPixels false here: metadata must succeed on a bomb so we can report its size.
    meta = await sharp(buf, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    throw mapSharpError(err, format, maxInputPixels);
  }
  if (!meta.width || !meta.height) throw new TruncatedImageError();
  return probeFrom(
    format,
    { width: meta.width, height: meta.height, orientation: meta.orientation ?? 1, pageHeight: meta.pageHeight ?? meta.height, pages: meta.pages ?? 1 },
    maxInputPixels,
  );
}

// ---------------------------------------------------------------------------------------
// Header-only reads of JPEG and PNG, for the web tier's probe: the same answer as sharp's
// metadata() for the files they accept, in microseconds and on the calling thread, instead of
// a round trip through libvips on the thread pool. They accept only what they can vouch for
// (the segments and chunks libjpeg-turbo and libspng would read before the pixels, each
// checked the way those libraries check them) and return undefined for anything else:
// unusual markers, a second EXIF block, animation or EXIF chunks in a PNG, odd lengths, bad
// CRCs. The caller then asks sharp, so an unusual file gets exactly today's answer.
// test/recognition/probe-header.test.ts compares both on real and damaged images.
// ---------------------------------------------------------------------------------------

/** libjpeg-turbo's JPEG_MAX_DIMENSION: larger frames are an error it reports. */
const JPEG_MAX_DIMENSION = 65_500;
/** Sizes the PNG reader vouches for; larger ones go to sharp (libspng and libvips have their own caps). */
const PNG_MAX_DIMENSION = 1_000_000;

/**
 * JPEG: SOI, then only these segments before the first scan, each with a length that fits:
 * APPn and COM (skipped, except APP0 JFIF's major version, APP1 EXIF's orientation and
 * APP2 ICC's sequence), DQT, DHT, DRI, one baseline/extended/progressive SOF (8-bit, 1 or 3
 * components), then an SOS that names the frame's components. No fill bytes, no garbage
 * between segments (libjpeg warns about those), no other marker.
 */
function jpegHeaderFields(buf: Buffer): HeaderFields | undefined {
  let i = 2;
  let frame: { width: number; height: number; ids: number[] } | undefined;
  let orientation: number | undefined;
  let exifBlocks = 0;
  const icc: Array<[number, number]> = [];
  for (;;) {
    if (i + 4 > buf.length || buf[i] !== 0xff) return undefined;
    const marker = buf[i + 1];
    const length = buf.readUInt16BE(i + 2);
    const start = i + 4;
    const end = i + 2 + length;
    if (length < 2 || end > buf.length) return undefined;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      if (frame) return undefined;
      frame = jpegFrame(buf, start, end);
      if (!frame) return undefined;
    } else if (marker === 0xdb) {
      if (!jpegQuantTablesValid(buf, start, end)) return undefined;
    } else if (marker === 0xc4) {
      if (!jpegHuffmanTablesValid(buf, start, end)) return undefined;
    } else if (marker === 0xdd) {
      if (length !== 4) return undefined;
    } else if (marker === 0xda) {
      if (!frame || !jpegScanValid(buf, start, end, frame.ids)) return undefined;
      if (!iccSequenceValid(icc)) return undefined;
      return { width: frame.width, height: frame.height, orientation: orientation ?? 1, pageHeight: frame.height, pages: 1 };
    } else if (marker === 0xe0) {
      // libjpeg warns about a JFIF major version other than 1.
      if (length >= 16 && buf.toString('latin1', start, start + 5) === 'JFIF\0' && buf[start + 5] !== 1) return undefined;
    } else if (marker === 0xe1) {
      if (length > 6 && buf.toString('latin1', start, start + 4) === 'Exif') {
        exifBlocks += 1;
        if (exifBlocks > 1) return undefined;
        orientation = exifOrientation(buf, start, end);
        if (orientation === undefined) return undefined;
      }
    } else if (marker === 0xe2) {
      if (length >= 16 && buf.toString('latin1', start, start + 12) === 'ICC_PROFILE\0') icc.push([buf[start + 12], buf[start + 13]]);
    } else if (!((marker >= 0xe3 && marker <= 0xef) || marker === 0xfe)) {
      // Another SOF type (lossless, arithmetic, hierarchical), DNL, DAC, a second SOI, EOI,
      // RSTn or fill bytes: sharp decides.
      return undefined;
    }
    i = end;
  }
}

/** SOF0-2 as libjpeg-turbo's get_sof and initial_setup check it; undefined when it would not pass. */
function jpegFrame(buf: Buffer, start: number, end: number): { width: number; height: number; ids: number[] } | undefined {
  if (end - start < 6) return undefined;
  const precision = buf[start];
  const height = buf.readUInt16BE(start + 1);
  const width = buf.readUInt16BE(start + 3);
  const components = buf[start + 5];
  if (precision !== 8 || (components !== 1 && components !== 3)) return undefined;
  if (end - start !== 6 + 3 * components) return undefined;
  if (width < 1 || height < 1 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) return undefined;
  const ids: number[] = [];
  for (let c = 0; c < components; c++) {
    const at = start + 6 + 3 * c;
    const id = buf[at];
    const h = buf[at + 1] >> 4;
    const v = buf[at + 1] & 0x0f;
    if (ids.includes(id) || h < 1 || h > 4 || v < 1 || v > 4 || buf[at + 2] > 3) return undefined;
    ids.push(id);
  }
  return { width, height, ids };
}

/** DQT: whole tables (8- or 16-bit, ids 0-3) that fill the segment exactly. */
function jpegQuantTablesValid(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const precision = buf[i] >> 4;
    if (precision > 1 || (buf[i] & 0x0f) > 3) return false;
    i += 1 + 64 * (precision + 1);
  }
  return i === end;
}

/** DHT: whole tables (class 0-1, ids 0-3, at most 256 codes) that fill the segment exactly. */
function jpegHuffmanTablesValid(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    if (i + 17 > end || buf[i] >> 4 > 1 || (buf[i] & 0x0f) > 3) return false;
    let codes = 0;
    for (let k = 1; k <= 16; k++) codes += buf[i + k];
    if (codes > 256) return false;
    i += 17 + codes;
  }
  return i === end;
}

/** SOS header: 1-4 distinct components of the frame, length exact (libjpeg's get_sos). */
function jpegScanValid(buf: Buffer, start: number, end: number, ids: number[]): boolean {
  if (end - start < 1) return false;
  const n = buf[start];
  if (n < 1 || n > 4 || end - start !== 4 + 2 * n) return false;
  const seen: number[] = [];
  for (let c = 0; c < n; c++) {
    const id = buf[start + 1 + 2 * c];
    if (!ids.includes(id) || seen.includes(id)) return false;
    seen.push(id);
  }
  return true;
}

/** ICC_PROFILE chunks numbered 1..N once each with the same N (libjpeg warns otherwise). */
function iccSequenceValid(chunks: Array<[number, number]>): boolean {
  if (chunks.length === 0) return true;
  const total = chunks[0][1];
  if (total === 0 || chunks.length !== total) return false;
  const seen = new Set<number>();
  for (const [seq, n] of chunks) {
    if (n !== total || seq < 1 || seq > total || seen.has(seq)) return false;
    seen.add(seq);
  }
  return true;
}

/**
 * The orientation in an APP1 EXIF segment (`Exif\0\0` then a TIFF header): 1 when IFD0 has
 * no Orientation tag, the tag's value when it is one SHORT in 1..8, undefined for anything
 * else (a malformed header or IFD, a second Orientation tag, an odd type or value).
 */
function exifOrientation(buf: Buffer, start: number, end: number): number | undefined {
  if (end - start < 14 || buf.toString('latin1', start, start + 6) !== 'Exif\0\0') return undefined;
  const tiff = start + 6;
  const order = buf.toString('latin1', tiff, tiff + 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (at: number) => (le ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  const u32 = (at: number) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  if (u16(tiff + 2) !== 42) return undefined;
  const ifd = tiff + u32(tiff + 4);
  if (ifd < tiff + 8 || ifd + 2 > end) return undefined;
  const entries = u16(ifd);
  if (ifd + 2 + 12 * entries > end) return undefined;
  let orientation: number | undefined;
  for (let e = 0; e < entries; e++) {
    const at = ifd + 2 + 12 * e;
    if (u16(at) !== 0x0112) continue;
    if (orientation !== undefined || u16(at + 2) !== 3 || u32(at + 4) !== 1) return undefined;
    orientation = u16(at + 8);
    if (orientation < 1 || orientation > 8) return undefined;
  }
  return orientation ?? 1;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (PNG's) in JavaScript, for Node releases before 20.15, which lack `zlib.crc32`. */
export function tableCrc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const crc32: (data: Uint8Array) => number = typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : tableCrc32;

/** Valid PNG bit depths per colour type. */
const PNG_BIT_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/**
 * PNG: IHDR, then only PLTE, tRNS, gAMA, cHRM, sRGB and pHYs (once each, in an order libspng
 * accepts, each well-formed, CRCs right) before the first IDAT. Anything else before the
 * pixels (iCCP, text, eXIf with its orientation, acTL of an animation, an unknown chunk) and
 * sharp decides.
 */
function pngHeaderFields(buf: Buffer): HeaderFields | undefined {
  let i = 8;
  const seen = new Set<string>();
  let width = 0;
  let height = 0;
  let colourType = -1;
  let bitDepth = 0;
  let paletteEntries = 0;
  for (;;) {
    if (i + 12 > buf.length) return undefined;
    const length = buf.readUInt32BE(i);
    const type = buf.toString('latin1', i + 4, i + 8);
    const data = i + 8;
    if (length > 0x7fffffff) return undefined;
    if (type === 'IDAT') {
      if (!seen.has('IHDR') || (colourType === 3 && !seen.has('PLTE'))) return undefined;
      return { width, height, orientation: 1, pageHeight: height, pages: 1 };
    }
    const end = data + length;
    if (end + 4 > buf.length) return undefined;
    if (crc32(buf.subarray(i + 4, end)) !== buf.readUInt32BE(end)) return undefined;
    if (seen.has(type) || (type !== 'IHDR' && !seen.has('IHDR'))) return undefined;
    seen.add(type);
    switch (type) {
      case 'IHDR':
        if (length !== 13) return undefined;
        width = buf.readUInt32BE(data);
        height = buf.readUInt32BE(data + 4);
        bitDepth = buf[data + 8];
        colourType = buf[data + 9];
        if (width < 1 || height < 1 || width > PNG_MAX_DIMENSION || height > PNG_MAX_DIMENSION) return undefined;
        if (!PNG_BIT_DEPTHS[colourType]?.includes(bitDepth)) return undefined;
        if (buf[data + 10] !== 0 || buf[data + 11] !== 0 || buf[data + 12] > 1) return undefined;
        break;
      case 'PLTE':
        if (colourType !== 2 && colourType !== 3 && colourType !== 6) return undefined;
        if (length === 0 || length % 3 !== 0 || length / 3 > 256) return undefined;
        paletteEntries = length / 3;
        if (colourType === 3 && paletteEntries > 1 << bitDepth) return undefined;
        break;
      case 'tRNS':
        if (colourType === 0 ? length !== 2 : colourType === 2 ? length !== 6 : colourType === 3 ? !seen.has('PLTE') || length === 0 || length > paletteEntries : true) return undefined;
        break;
      case 'gAMA':
        if (length !== 4 || seen.has('PLTE') || buf.readUInt32BE(data) === 0 || buf.readUInt32BE(data) > 0x7fffffff) return undefined;
        break;
      case 'sRGB':
        if (length !== 1 || seen.has('PLTE') || buf[data] > 3) return undefined;
        break;
      case 'cHRM':
        if (length !== 32 || seen.has('PLTE')) return undefined;
        for (let k = 0; k < 8; k++) if (buf.readUInt32BE(data + 4 * k) > 0x7fffffff) return undefined;
        break;
      case 'pHYs':
        if (length !== 9 || buf[data + 8] > 1 || buf.readUInt32BE(data) > 0x7fffffff || buf.readUInt32BE(data + 4) > 0x7fffffff) return undefined;
        break;
      default:
        return undefined;
    }
    i = end + 4;
  }
}

function headerOnlyFields(buf: Buffer, format: ImageFormat): HeaderFields | undefined {
  return format === 'jpeg' ? jpegHeaderFields(buf) : format === 'png' ? pngHeaderFields(buf) : undefined;
}

/**
 * Whether {@link probeImage} answers `buf` from its header bytes alone (true) or asks sharp.
 * For tests: the comparison with sharp means little unless this is true for real images.
 */
export function readsHeaderOnly(buf: Buffer): boolean {
  return headerOnlyFields(buf, sniffFormat(buf)) !== undefined;
}

/**
 * Decode an uploaded image to packed RGB: sniff the magic bytes, refuse bombs
 * (`maxInputPixels`, default 50 M), apply EXIF rotation, keep the first frame of an animation,
 * flatten alpha and greyscale to 3-channel sRGB. Throws only {@link ImageError} subclasses.
 */
export async function decodeImage(buf: Buffer, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const format = sniffFormat(buf);
  // Ordinary JPEGs and PNGs are sized from their header bytes, as the probe does: one sharp
  // round trip (metadata) fewer per image, the same refusals.
  const fields = headerOnlyFields(buf, format);
  const probe = fields ? probeFrom(format, fields, maxInputPixels) : await header(buf, format, maxInputPixels);
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
 * Ordinary JPEGs and PNGs are read from their header bytes alone ({@link probeHeaderOnly});
 * anything unusual, and every other format, through sharp's metadata.
 */
export async function probeImage(buf: Buffer, options: DecodeOptions = {}): Promise<ImageProbe> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const format = sniffFormat(buf);
  const fields = headerOnlyFields(buf, format);
  const probe = fields ? probeFrom(format, fields, maxInputPixels) : await header(buf, format, maxInputPixels);
  return checkComplete(buf, probe, maxInputPixels);
}

/** {@link probeImage} with sharp's metadata for every format: what the header-only reads are tested against. */
export async function probeImageWithSharp(buf: Buffer, options: DecodeOptions = {}): Promise<ImageProbe> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const format = sniffFormat(buf);
  return checkComplete(buf, await header(buf, format, maxInputPixels), maxInputPixels);
}

/** The probe's truncation check: structural for JPEG, PNG and WebP, a decode for GIF. */
async function checkComplete(buf: Buffer, probe: ImageProbe, maxInputPixels: number): Promise<ImageProbe> {
  const { format } = probe;
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
