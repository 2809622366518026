import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { faceThumbnail, THUMBNAIL_SIZE, thumbnailKey } from '../../src/jobs/thumbnails.js';
import { rotatedJpeg } from '../helpers/images.js';

/** 200x100, left half red, right half blue. */
async function halves(): Promise<Buffer> {
  const red = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#ff0000' } }).png().toBuffer();
  return sharp({ create: { width: 200, height: 100, channels: 3, background: '#0000ff' } })
    .composite([{ input: red, left: 0, top: 0 }])
    .png()
    .toBuffer();
}

async function meanColour(jpeg: Buffer): Promise<{ r: number; b: number; width: number; height: number; format?: string }> {
  const { channels, ...rest } = await sharp(jpeg).stats();
  const meta = await sharp(jpeg).metadata();
  void rest;
  return { r: channels[0].mean, b: channels[2].mean, width: meta.width!, height: meta.height!, format: meta.format };
}

describe('face thumbnails', () => {
  it('cut the box out as a small square JPEG', async () => {
    const out = await meanColour(await faceThumbnail(await halves(), { x: 130, y: 30, width: 40, height: 40 }));
    expect(out).toMatchObject({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, format: 'jpeg' });
    expect(out.b).toBeGreaterThan(200);
    expect(out.r).toBeLessThan(40);
  });

  it('read the box in EXIF-rotated pixels, as the engine reports it', async () => {
    // Stored pixels are turned; orientation 6 turns them back to the 200x100 picture.
    const rotated = await rotatedJpeg(await halves(), 6);
    const stored = await sharp(rotated).metadata();
    expect([stored.width, stored.height]).toEqual([100, 200]);
    const left = await meanColour(await faceThumbnail(rotated, { x: 30, y: 30, width: 40, height: 40 }));
    expect(left.r).toBeGreaterThan(200);
    expect(left.b).toBeLessThan(40);
  });

  it('are keyed by face id', () => {
    expect(thumbnailKey('abc-123')).toBe('thumbnails/abc-123.jpg');
  });
});
