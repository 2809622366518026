/**
 * Hostile and edge-case upload bodies for web tests, all generated (nothing downloaded):
 * images built with sharp and a PNG decompression bomb built byte by byte with node:zlib.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { PNG_SIGNATURE, pngChunk as chunk } from '../../scripts/lib/png-chunk.js';

/** A small valid JPEG (noise, so it is not trivially compressible). */
export async function validJpeg(size = 64): Promise<Buffer> {
  const pixels = Buffer.alloc(size * size * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

export async function validPng(size = 48): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: 40, g: 90, b: 160 } } }).png().toBuffer();
}

/** A JPEG cut off halfway through its scan data. */
export async function truncatedJpeg(): Promise<Buffer> {
  const full = await validJpeg(256);
  return full.subarray(0, Math.floor(full.length / 2));
}

/** Two-frame animated GIF. */
export async function animatedGif(): Promise<Buffer> {
  const frame = (r: number, b: number) =>
    sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g: 0, b } } }).png().toBuffer();
  return sharp([await frame(255, 0), await frame(0, 255)], { join: { animated: true } }).gif().toBuffer();
}

/**
 * A `side` x `side` 1-bit greyscale PNG whose rows are all zero: ~100 KB on the wire for
 * 30000x30000, 900 M pixels decoded. Zero rows are streamed through deflate, so memory stays small.
 */
export async function pngBomb(side = 30000): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const row = Buffer.alloc(1 + Math.ceil(side / 8)); // filter byte 0 + packed bits
  const rowsPerBlock = 256;
  const block = Buffer.concat(Array.from({ length: rowsPerBlock }, () => row));
  async function* rows(): AsyncGenerator<Buffer> {
    for (let left = side; left > 0; left -= rowsPerBlock) {
      yield left >= rowsPerBlock ? block : block.subarray(0, left * row.length);
    }
  }
  const parts: Buffer[] = [];
  const deflate = zlib.createDeflate({ level: 9 });
  deflate.on('data', (d: Buffer) => parts.push(d));
  await pipeline(Readable.from(rows()), deflate);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
}

export const SVG_WITH_SCRIPT = `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
  <script>alert(document.cookie)</script>
  <rect width="64" height="64" fill="red"/>
</svg>`;

export const TEXT_FILE = 'This is not a picture, just some text pretending to be one.\n';
