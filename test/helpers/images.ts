/** Builders for awkward image inputs: bombs, truncations, rotations, non-images. */
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { PNG_SIGNATURE, pngChunk as chunk } from '../../scripts/lib/png-chunk.js';

/** The face data committed in the repository (`examples/`: the bbt and CSE546 sets). */
export function dataDir(...parts: string[]): string {
  return path.resolve(process.cwd(), 'examples', ...parts);
}

/**
 * A 250x250 PNG cut from the bbt group shot `bbt<n>.jpg` at (`left`, `top`): a face with its
 * surroundings, the way LFW's images are (LFW itself is not in the repository). The cuts the
 * tests use, each holding one face that both face-api's cascade and dlib's detector find.
 */
export function groupShotCut(n: number, left: number, top: number): Promise<Buffer> {
  return sharp(dataDir('bbt', `bbt${n}.jpg`)).extract({ left, top, width: 250, height: 250 }).png().toBuffer();
}

/** The one-face cuts: {@link groupShotCut} arguments, named for test titles. */
export const ONE_FACE_CUTS = {
  'bbt1@927,16': [1, 927, 16],
  'bbt1@134,62': [1, 134, 62],
  'bbt4@0,195': [4, 0, 195],
  'bbt5@355,77': [5, 355, 77],
  'bbt5@489,0': [5, 489, 0],
} as const satisfies Record<string, readonly [number, number, number]>;

/** The name of one of {@link ONE_FACE_CUTS}. */
export type OneFaceCut = keyof typeof ONE_FACE_CUTS;

/** The one-face cut `name` (see {@link ONE_FACE_CUTS}). */
export function oneFaceCut(name: OneFaceCut): Promise<Buffer> {
  const [n, left, top] = ONE_FACE_CUTS[name];
  return groupShotCut(n, left, top);
}

/** Where {@link besideCrop}'s neighbour is cut from `bbt5.jpg`: around its face at about (147, 209). */
export const BESIDE_NEIGHBOUR = { left: 77, top: 134, width: 140, height: 150 } as const;

/**
 * A small photo of two people side by side, 290x150: on the left a 140x150 cut of `bbt5.jpg`
 * around one of its faces ({@link BESIDE_NEIGHBOUR}), and flush against it on the right the
 * tight 150x150 crop `examples/bbt/<who>/<who>1.png`. With `penny`, the small-image cascade's
 * first pass finds only Penny, and the padded joining pass adds the neighbour.
 */
export async function besideCrop(who = 'penny'): Promise<Buffer> {
  const neighbour = await sharp(dataDir('bbt', 'bbt5.jpg')).extract(BESIDE_NEIGHBOUR).png().toBuffer();
  const crop = await sharp(dataDir('bbt', who, `${who}1.png`)).toColourspace('srgb').png().toBuffer();
  return sharp({ create: { width: 290, height: 150, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite([{ input: neighbour, left: 0, top: 0 }, { input: crop, left: 140, top: 0 }])
    .png()
    .toBuffer();
}

/** face-api's demo photos (`demo/sample1.jpg` ... `sample6.jpg`), shipped with the package. */
export function faceApiDemo(n: number): string {
  return path.resolve(process.cwd(), 'node_modules', '@vladmandic', 'face-api', 'demo', `sample${n}.jpg`);
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
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
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
