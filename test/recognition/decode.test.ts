import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, probeImage, readImageFile, sniffFormat } from '../../src/recognition/decode.js';
import { ImageError } from '../../src/recognition/errors.js';
import { dataDir, faceApiDemo, pngBomb, rotatedJpeg, svgImage, truncate } from '../helpers/images.js';

let tmp: string;
let jpeg: Buffer;
let png: Buffer;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
  jpeg = await fs.readFile(dataDir('bbt', 'bbt2.jpg'));
  png = await fs.readFile(dataDir('bbt', 'amy', 'amy1.png'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Both entry points must reject the same bytes with the same code. */
async function expectCode(buf: Buffer, code: string): Promise<void> {
  for (const fn of [decodeImage, probeImage]) {
    const err = await fn(buf).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, `${fn.name} should reject`).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe(code);
    expect((err as ImageError).retryable).toBe(false);
    expect((err as ImageError).message.length).toBeGreaterThan(20);
  }
}

describe('bad input gets a typed error', () => {
  it('empty', () => expectCode(Buffer.alloc(0), 'empty-image'));
  it('a text file named .jpg', async () => {
    const file = path.join(tmp, 'notes.jpg');
    await fs.writeFile(file, 'these are my holiday notes, not a photo\n');
    await expectCode(await readImageFile(file), 'not-an-image');
  });
  it('a truncated JPEG', () => expectCode(truncate(jpeg, 0.5), 'truncated-image'));
  it('a truncated PNG', () => expectCode(truncate(png, 0.6), 'truncated-image'));
  it('a JPEG cut right after its header', () => expectCode(jpeg.subarray(0, 700), 'truncated-image'));
  it('JPEGs and PNGs cut anywhere are caught by the cheap probe too', async () => {
    for (const buf of [jpeg, png, await sharp(png).jpeg({ progressive: true }).toBuffer()]) {
      for (const fraction of [0.05, 0.2, 0.5, 0.8, 0.95, 0.99]) {
        await expect(probeImage(truncate(buf, fraction)), `cut at ${fraction}`).rejects.toMatchObject({ code: 'truncated-image' });
      }
      // One byte short of complete.
      await expect(probeImage(buf.subarray(0, buf.length - 1))).rejects.toMatchObject({ code: 'truncated-image' });
    }
  });
  it('tolerates bytes after the end of a complete JPEG', async () => {
    const padded = Buffer.concat([jpeg, Buffer.from('trailing junk from a sloppy uploader')]);
    await expect(probeImage(padded)).resolves.toMatchObject({ format: 'jpeg' });
    await expect(decodeImage(padded)).resolves.toMatchObject({ format: 'jpeg' });
  });
  it('a 30000x30000 PNG decompression bomb, without allocating it', async () => {
    const bomb = await pngBomb();
    expect(bomb.length).toBeLessThan(200_000);
    const before = process.memoryUsage().rss;
    await expectCode(bomb, 'too-many-pixels');
    // 900 M pixels decoded would be at least 900 MB; refusing it must not come close.
    expect(process.memoryUsage().rss - before).toBeLessThan(300 * 1024 * 1024);
  });
  it('a picture just over a custom pixel limit', async () => {
    await expect(decodeImage(png, { maxInputPixels: 150 * 150 - 1 })).rejects.toMatchObject({ code: 'too-many-pixels' });
    await expect(probeImage(png, { maxInputPixels: 150 * 150 - 1 })).rejects.toMatchObject({ code: 'too-many-pixels' });
    await expect(decodeImage(png, { maxInputPixels: 150 * 150 })).resolves.toMatchObject({ width: 150 });
  });
  it('SVG, TIFF and BMP are refused as unsupported formats', async () => {
    await expectCode(svgImage(), 'unsupported-format');
    await expectCode(await sharp(png).tiff().toBuffer(), 'unsupported-format');
    const bmp = Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]);
    await expectCode(bmp, 'unsupported-format');
    expect(() => sniffFormat(svgImage())).toThrow(/SVG images are not supported/);
  });
  it('a directory or a missing path passed as an image', async () => {
    await expect(readImageFile(tmp)).rejects.toMatchObject({ code: 'not-a-file' });
    await expect(readImageFile(path.join(tmp, 'missing.jpg'))).rejects.toMatchObject({ code: 'not-a-file' });
  });
});

describe('accepted images', () => {
  it('decodes JPEG, PNG, WebP and GIF to packed RGB', async () => {
    const webp = await sharp(jpeg).webp().toBuffer();
    const gif = await sharp(png).gif().toBuffer();
    for (const [buf, format] of [[jpeg, 'jpeg'], [png, 'png'], [webp, 'webp'], [gif, 'gif']] as const) {
      const img = await decodeImage(buf);
      expect(img.format).toBe(format);
      expect(img.data.length).toBe(img.width * img.height * 3);
      expect(await probeImage(buf)).toMatchObject({ format, width: img.width, height: img.height, pages: 1 });
    }
  });

  it('keeps only the first frame of an animated GIF', async () => {
    const frame = (v: number) => sharp({ create: { width: 8, height: 6, channels: 3, background: { r: v, g: v, b: v } } }).raw().toBuffer();
    const frames = Buffer.concat([await frame(250), await frame(10)]);
    // Two 8x6 frames stacked vertically; pageHeight makes them frames of one animation.
    const animated = await sharp(frames, { raw: { width: 8, height: 12, channels: 3, pageHeight: 6 } }).gif({ loop: 0 }).toBuffer();
    const probe = await probeImage(animated);
    expect(probe.pages).toBe(2);
    expect(probe.height).toBe(6);
    const img = await decodeImage(animated);
    expect([img.width, img.height]).toEqual([8, 6]);
    expect(img.data[0]).toBeGreaterThan(200);
  });

  it('applies EXIF rotation', async () => {
    const upright = await decodeImage(jpeg);
    const stored = await rotatedJpeg(jpeg, 6);
    const meta = await sharp(stored).metadata();
    // The stored pixels are portrait; orientation 6 turns them back to landscape.
    expect([meta.width, meta.height, meta.orientation]).toEqual([upright.height, upright.width, 6]);
    const img = await decodeImage(stored);
    expect([img.width, img.height]).toEqual([upright.width, upright.height]);
    expect(await probeImage(stored)).toMatchObject({ width: upright.width, height: upright.height });
    // Same picture, not merely the same size: compare mean absolute difference of the pixels.
    let diff = 0;
    for (let i = 0; i < img.data.length; i++) diff += Math.abs(img.data[i] - upright.data[i]);
    expect(diff / img.data.length).toBeLessThan(12);
  });

  it('turns greyscale into three channels', async () => {
    const img = await decodeImage(png);
    expect(img.data.length).toBe(150 * 150 * 3);
    expect(img.data[0]).toBe(img.data[1]);
  });

  it('probes a large photo quickly enough to run before queueing', async () => {
    const big = await fs.readFile(faceApiDemo(1));
    expect(await probeImage(big)).toEqual({ format: 'jpeg', width: 1920, height: 1280, pages: 1 });
  });
});
