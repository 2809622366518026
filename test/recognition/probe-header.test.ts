/**
 * The web tier's probe reads ordinary JPEG and PNG headers itself instead of asking sharp.
 * Whatever it answers must be what sharp's metadata would have given: the same probe, or the
 * same typed error. Compared here on every image of the data sets, the engine's sample photos,
 * images re-encoded in the variants sharp writes, and damaged copies of them (cut at every
 * header byte, single header bytes changed, hand-made odd headers).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeImage, probeImageWithSharp, readsHeaderOnly, tableCrc32 } from '../../src/recognition/decode.js';
import { ImageError } from '../../src/recognition/errors.js';
import { loadCse546 } from '../helpers/cse546.js';
import { dataDir, faceApiDemo, pngBomb, rotatedJpeg, truncate } from '../helpers/images.js';

type Outcome = { probe: unknown } | { code: string; name: string; status?: unknown; message: string };

async function outcome(fn: (buf: Buffer, options?: { maxInputPixels?: number }) => Promise<unknown>, buf: Buffer, maxInputPixels?: number): Promise<Outcome> {
  try {
    return { probe: await fn(buf, maxInputPixels === undefined ? {} : { maxInputPixels }) };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    // The message of a sharp failure quotes libvips; the code and class are what clients see.
    return { code: err.code, name: err.constructor.name, message: err.code === 'truncated-image' ? '' : err.message };
  }
}

/** Probe `buf` both ways and expect the same outcome; returns it. */
async function expectSame(buf: Buffer, label: string, maxInputPixels?: number): Promise<Outcome> {
  const [fast, slow] = await Promise.all([outcome(probeImage, buf, maxInputPixels), outcome(probeImageWithSharp, buf, maxInputPixels)]);
  expect(fast, label).toEqual(slow);
  return fast;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (/\.(jpe?g|png)$/i.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/** Every JPEG/PNG under examples/bbt, the distinct CSE546 crops, face-api's six demo photos. */
const real: Array<{ label: string; buf: Buffer }> = [];
/** Re-encodings in the variants sharp itself writes. */
const variants: Array<{ label: string; buf: Buffer }> = [];

beforeAll(async () => {
  for (const file of await filesUnder(dataDir('bbt'))) real.push({ label: path.relative(dataDir(), file), buf: await fs.readFile(file) });
  const seen = new Set<string>();
  for (const c of await loadCse546()) {
    const hash = createHash('sha256').update(c.buffer).digest('hex');
    if (seen.has(hash)) continue;
    seen.add(hash);
    real.push({ label: `cse546/${c.file}`, buf: c.buffer });
  }
  for (let n = 1; n <= 6; n++) real.push({ label: `face-api sample${n}.jpg`, buf: await fs.readFile(faceApiDemo(n)) });

  const jpeg = await fs.readFile(dataDir('bbt', 'bbt2.jpg'));
  const png = await fs.readFile(dataDir('bbt', 'amy', 'amy1.png'));
  const small = sharp(jpeg).resize(97, 61);
  for (const orientation of [2, 3, 4, 5, 6, 7, 8]) {
    variants.push({ label: `jpeg orientation ${orientation}`, buf: await small.clone().withMetadata({ orientation }).jpeg().toBuffer() });
    variants.push({ label: `png orientation ${orientation} (eXIf)`, buf: await small.clone().withMetadata({ orientation }).png().toBuffer() });
  }
  variants.push({ label: 'rotated jpeg 6', buf: await rotatedJpeg(jpeg, 6) });
  variants.push({ label: 'progressive jpeg', buf: await small.clone().jpeg({ progressive: true }).toBuffer() });
  variants.push({ label: 'jpeg 4:4:4', buf: await small.clone().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer() });
  variants.push({ label: 'jpeg with restart-free optimised tables', buf: await small.clone().jpeg({ optimiseCoding: true, mozjpeg: true }).toBuffer() });
  variants.push({ label: 'greyscale jpeg', buf: await small.clone().greyscale().jpeg().toBuffer() });
  variants.push({ label: 'cmyk jpeg', buf: await small.clone().toColourspace('cmyk').jpeg().toBuffer() });
  variants.push({ label: 'jpeg with an ICC profile', buf: await small.clone().withMetadata({ icc: 'p3' }).jpeg().toBuffer() });
  variants.push({ label: 'jpeg with density', buf: await small.clone().withMetadata({ density: 300 }).jpeg().toBuffer() });
  variants.push({ label: 'palette png', buf: await small.clone().png({ palette: true, colours: 16 }).toBuffer() });
  variants.push({ label: 'palette png with transparency', buf: await small.clone().ensureAlpha(0.5).png({ palette: true }).toBuffer() });
  variants.push({ label: 'rgba png', buf: await small.clone().ensureAlpha().png().toBuffer() });
  variants.push({ label: '16-bit png', buf: await small.clone().toColourspace('rgb16').png().toBuffer() });
  variants.push({ label: 'interlaced png', buf: await small.clone().png({ progressive: true }).toBuffer() });
  variants.push({ label: 'png with density', buf: await small.clone().withMetadata({ density: 144 }).png().toBuffer() });
  variants.push({ label: '1x1 png', buf: await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } }).png().toBuffer() });
  variants.push({ label: 'png of a png', buf: await sharp(png).png().toBuffer() });
});

describe('the header-only probe matches sharp', () => {
  it('on every real image, and reads all of them itself', async () => {
    expect(real.length).toBeGreaterThan(50);
    for (const { label, buf } of real) {
      const got = await expectSame(buf, label);
      expect(got, label).toHaveProperty('probe');
      expect(readsHeaderOnly(buf), `${label} is read without sharp`).toBe(true);
    }
  });

  it('on re-encoded variants (EXIF orientations, progressive, CMYK, palettes, 16-bit, ICC)', async () => {
    for (const { label, buf } of variants) await expectSame(buf, label);
    // Orientations 5-8 swap width and height; the 97x61 source reads 61x97 then.
    const six = variants.find((v) => v.label === 'jpeg orientation 6')!.buf;
    expect(readsHeaderOnly(six)).toBe(true);
    expect(await probeImage(six)).toEqual({ format: 'jpeg', width: 61, height: 97, pages: 1 });
  });

  it('on bombs and pixel limits', async () => {
    const bomb = await pngBomb();
    expect(readsHeaderOnly(bomb)).toBe(true);
    expect(await expectSame(bomb, 'png bomb')).toMatchObject({ code: 'too-many-pixels' });
    const big = await fs.readFile(faceApiDemo(1));
    expect(await expectSame(big, 'photo over a small limit', 1920 * 1280 - 1)).toMatchObject({ code: 'too-many-pixels' });
    expect(await expectSame(big, 'photo at the limit', 1920 * 1280)).toHaveProperty('probe');
    const six = variants.find((v) => v.label === 'jpeg orientation 6')!.buf;
    expect(await expectSame(six, 'rotated over a limit', 97 * 61 - 1)).toMatchObject({ code: 'too-many-pixels' });
  });

  it('on images cut at every byte of their header', async () => {
    const bases = [real.find((r) => r.label.startsWith('cse546'))!, ...variants.filter((v) => /orientation 6|progressive|palette png$|ICC/.test(v.label))];
    for (const { label, buf } of bases) {
      const header = headerLength(buf);
      for (let cut = 1; cut <= header + 8 && cut < buf.length; cut++) await expectSame(buf.subarray(0, cut), `${label} cut at ${cut}`);
      for (const fraction of [0.3, 0.6, 0.9]) await expectSame(truncate(buf, fraction), `${label} cut at ${fraction}`);
    }
  });

  it('on images with one header byte changed', async () => {
    const bases = [real.find((r) => r.label.startsWith('cse546'))!, ...variants.filter((v) => /orientation 6|progressive|palette png with|png orientation 8/.test(v.label))];
    let answeredByHeader = 0;
    let changed = 0;
    for (const { label, buf } of bases) {
      const header = headerLength(buf);
      for (let at = 2; at < header; at++) {
        for (const value of new Set([0x00, 0xff, buf[at] ^ 0x01, buf[at] ^ 0x80])) {
          if (value === buf[at]) continue;
          const bad = Buffer.from(buf);
          bad[at] = value;
          changed += 1;
          if (headerOnly(bad)) answeredByHeader += 1;
          await expectSame(bad, `${label} byte ${at} = 0x${value.toString(16)}`);
        }
      }
    }
    // Most single-byte changes land in data the header reader skips or re-checks (table
    // contents, CRC-covered chunks), so both paths see them; the comparison is not vacuous.
    expect(changed).toBeGreaterThan(5000);
    expect(answeredByHeader).toBeGreaterThan(changed / 10);
  });

  it('on hand-made odd JPEG headers', async () => {
    const base = variants.find((v) => v.label === 'jpeg orientation 6')!.buf;
    const app1 = segment(base, 0xe1);
    const cases: Array<[string, Buffer]> = [
      ['two EXIF blocks', insertAfterSoi(base, app1)],
      ['orientation 9', withOrientation(base, 9)],
      ['orientation 0', withOrientation(base, 0)],
      ['JFIF version 2', insertAfterSoi(base, jpegSegment(0xe0, Buffer.from('JFIF\0\x02\x01\0\0\x01\0\x01\0\0', 'latin1')))],
      ['a comment', insertAfterSoi(base, jpegSegment(0xfe, Buffer.from('hello')))],
      ['an APP1 "Exif" without its header', insertAfterSoi(base, jpegSegment(0xe1, Buffer.from('Exif')))],
      ['an APP1 "Exif" with junk', insertAfterSoi(base, jpegSegment(0xe1, Buffer.from('Exif\0\0junkjunkjunk')))],
      ['fill bytes before a marker', Buffer.concat([base.subarray(0, 2), Buffer.from([0xff]), base.subarray(2)])],
      ['garbage between segments', Buffer.concat([base.subarray(0, 2), Buffer.from([0x00]), base.subarray(2)])],
      ['an ICC chunk numbered 2 of 1', insertAfterSoi(base, jpegSegment(0xe2, Buffer.concat([Buffer.from('ICC_PROFILE\0\x02\x01', 'latin1'), Buffer.alloc(8)])))],
      ['an EOI before the frame', insertAfterSoi(base, Buffer.from([0xff, 0xd9]))],
      ['a DRI of the wrong length', insertAfterSoi(base, jpegSegment(0xdd, Buffer.from([0, 4, 0])))],
    ];
    for (const [label, buf] of cases) await expectSame(buf, label);
  });

  it('on hand-made odd PNG headers', async () => {
    const base = variants.find((v) => v.label === 'png of a png')!.buf;
    const chunk = (type: string, data: Buffer) => {
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      out.write(type, 4, 'latin1');
      data.copy(out, 8);
      out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
      return out;
    };
    const afterIhdr = (extra: Buffer) => Buffer.concat([base.subarray(0, 33), extra, base.subarray(33)]);
    const cases: Array<[string, Buffer]> = [
      ['a text chunk', afterIhdr(chunk('tEXt', Buffer.from('Comment\0hi')))],
      ['a gamma of zero', afterIhdr(chunk('gAMA', Buffer.alloc(4)))],
      ['two gammas', afterIhdr(Buffer.concat([chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f])), chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))]))],
      ['sRGB intent 4', afterIhdr(chunk('sRGB', Buffer.from([4])))],
      ['pHYs unit 2', afterIhdr(chunk('pHYs', Buffer.from([0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 2])))],
      ['an unknown ancillary chunk', afterIhdr(chunk('zzZz', Buffer.from('x')))],
      ['an unknown critical chunk', afterIhdr(chunk('ZZZZ', Buffer.from('x')))],
      ['an animation control chunk', afterIhdr(chunk('acTL', Buffer.from([0, 0, 0, 2, 0, 0, 0, 0])))],
      ['a palette in a greyscale image', afterIhdr(chunk('PLTE', Buffer.alloc(6)))],
      ['a bad CRC on a known chunk', (() => {
        const b = afterIhdr(chunk('sRGB', Buffer.from([0])));
        b[33 + 12] ^= 0xff;
        return b;
      })()],
    ];
    for (const [label, buf] of cases) await expectSame(buf, label);
  });
});

/** {@link readsHeaderOnly}, false when the bytes are no longer a JPEG or PNG at all. */
function headerOnly(buf: Buffer): boolean {
  try {
    return readsHeaderOnly(buf);
  } catch (err) {
    if (err instanceof ImageError) return false;
    throw err;
  }
}

/** Bytes before the pixels: through the JPEG's SOS segment, or the PNG's first IDAT chunk header. */
function headerLength(buf: Buffer): number {
  if (buf[0] === 0x89) {
    let i = 8;
    while (buf.toString('latin1', i + 4, i + 8) !== 'IDAT') i += 12 + buf.readUInt32BE(i);
    return i + 8;
  }
  let i = 2;
  while (buf[i + 1] !== 0xda) i += 2 + buf.readUInt16BE(i + 2);
  return i + 2 + buf.readUInt16BE(i + 2);
}

function segment(buf: Buffer, marker: number): Buffer {
  let i = 2;
  while (buf[i + 1] !== marker) i += 2 + buf.readUInt16BE(i + 2);
  return buf.subarray(i, i + 2 + buf.readUInt16BE(i + 2));
}

function jpegSegment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

function insertAfterSoi(buf: Buffer, extra: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, 2), extra, buf.subarray(2)]);
}

/** A copy of a JPEG whose EXIF Orientation (one SHORT in IFD0) is set to `value`. */
function withOrientation(buf: Buffer, value: number): Buffer {
  const out = Buffer.from(buf);
  const app1 = buf.indexOf(segment(buf, 0xe1));
  const tiff = app1 + 10;
  const le = out.toString('latin1', tiff, tiff + 2) === 'II';
  const u16 = (at: number) => (le ? out.readUInt16LE(at) : out.readUInt16BE(at));
  const ifd = tiff + (le ? out.readUInt32LE(tiff + 4) : out.readUInt32BE(tiff + 4));
  for (let e = 0; e < u16(ifd); e++) {
    const at = ifd + 2 + 12 * e;
    if (u16(at) === 0x0112) {
      if (le) out.writeUInt16LE(value, at + 8);
      else out.writeUInt16BE(value, at + 8);
      return out;
    }
  }
  throw new Error('no orientation tag');
}

describe('tableCrc32 (PNG chunk CRCs on Node releases without zlib.crc32)', () => {
  it('matches zlib.crc32 on empty, short and random data', () => {
    const samples = [Buffer.alloc(0), Buffer.from('IEND'), Buffer.from('123456789'), createHash('sha512').update('x').digest(), Buffer.alloc(70_000, 0xa5)];
    for (const s of samples) expect(tableCrc32(s)).toBe(zlib.crc32(s));
    // The standard check value of CRC-32.
    expect(tableCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
