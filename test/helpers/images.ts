/** Builders for awkward image inputs: bombs, truncations, rotations, non-images. */
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';

/** The face data committed in the repository (`examples/`: the bbt and CSE546 sets). */
export function dataDir(...parts: string[]): string {
  return path.resolve(process.cwd(), 'examples', ...parts);
}

/** face-api's demo photos (`demo/sample1.jpg` ... `sample6.jpg`), shipped with the package. */
export function faceApiDemo(n: number): string {
  return path.resolve(process.cwd(), 'node_modules', '@vladmandic', 'face-api', 'demo', `sample${n}.jpg`);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/**
 * A valid PNG of `width` x `height` 1-bit greyscale black pixels, built by hand so it never
 * exists decoded: 30000x30000 is 900 M pixels in about 110 KB. A decompression bomb.
 */
export async function pngBomb(width = 30_000, height = 30_000): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  // Each scanline is a filter byte (0) plus the packed bits, all zero. Stream them through
  // deflate in slices so the 112 MB of raw scanlines never sit in memory at once.
  const rowBytes = 1 + Math.ceil(width / 8);
  const rowsPerSlice = 1000;
  const slice = Buffer.alloc(rowBytes * rowsPerSlice);
  const deflate = zlib.createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const finished = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  for (let done = 0; done < height; done += rowsPerSlice) {
    const rows = Math.min(rowsPerSlice, height - done);
    if (!deflate.write(slice.subarray(0, rows * rowBytes))) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await finished;
  const idat = Buffer.concat(out);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** The first `fraction` of a file: a truncated upload. */
export function truncate(buf: Buffer, fraction = 0.5): Buffer {
  return buf.subarray(0, Math.floor(buf.length * fraction));
}

/** A small SVG with a face-ish drawing: a real image format we refuse. */
export function svgImage(): Buffer {
  return Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="tan"/></svg>');
}

/**
 * Re-encode `image` as a JPEG whose pixels are rotated so that the EXIF `orientation` tag
 * (6 = display rotated 90 degrees clockwise) restores the upright view.
 */
export async function rotatedJpeg(image: Buffer, orientation: 6 | 8 | 3 = 6): Promise<Buffer> {
  // Orientation 6 means "rotate 90 cw to display", so store the pixels rotated 90 ccw.
  const undo = orientation === 6 ? -90 : orientation === 8 ? 90 : 180;
  return sharp(image).rotate(undo).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}
