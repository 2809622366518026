/**
 * No image that passes the pixel cap can break the engine (issue 14): detection runs on at most
 * MAX_DETECT_SIDE px a side and its boxes are mapped back; a failure inside the backend is an
 * `engine-crashed` error, after which the engine refuses to run again on its runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { MAX_DETECT_SIDE } from '../../src/recognition/detect-scale.js';
import { loadEngine, type LoadedEngine } from '../../src/recognition/engine.js';
import { EngineCrashedError } from '../../src/recognition/errors.js';
import { dataDir } from '../helpers/images.js';

let engine: LoadedEngine;

beforeAll(async () => {
  engine = await loadEngine({ tfBackend: 'auto' });
});
afterAll(async () => {
  await engine?.close();
});

/** A flat grey PNG of about `mp` megapixels (square), small on disk. */
function flatPng(side: number): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
}

describe('large images', () => {
  // 1, 10, 25 and 50 MP (7071^2 is just under the 50 M pixel cap); 7000^2 is the image.
  it.each([1000, 3163, 5000, 7000, 7071])('a flat %i px square is analysed: no face, no crash', async (side) => {
    const analyzed = await engine.analyze(await flatPng(side));
    expect(analyzed).toMatchObject({ width: side, height: side, faces: [] });
  }, 120_000);

  it('a group shot scaled past the detection side finds its faces, boxed in its own pixels', async () => {
    const original = await sharp(dataDir('bbt', 'bbt1.jpg')).toBuffer();
    const small = await engine.analyze(original);
    const factor = 4;
    const meta = await sharp(original).metadata();
    const big = await sharp(original).resize({ width: meta.width! * factor }).jpeg({ quality: 90 }).toBuffer();
    expect(meta.width! * factor).toBeGreaterThan(MAX_DETECT_SIDE);
    const large = await engine.analyze(big);
    expect(small.faces.length).toBeGreaterThan(1);
    expect(large.faces.length).toBe(small.faces.length);
    expect(large.width).toBe(meta.width! * factor);
    // Largest first in both: each big box is its small box scaled up (within a few small px).
    for (const [i, f] of large.faces.entries()) {
      const s = small.faces[i]!.box;
      expect(Math.abs(f.box.x / factor - s.x)).toBeLessThan(Math.max(4, s.width * 0.15));
      expect(Math.abs(f.box.width / factor - s.width)).toBeLessThan(Math.max(4, s.width * 0.25));
    }
  }, 120_000);

  it('a failure inside the backend is engine-crashed, and the engine then refuses every image', async () => {
    const crashing = await loadEngine({ tfBackend: 'auto' });
    const amy = await sharp(dataDir('bbt', 'amy', 'amy1.png')).toBuffer();
    const nets = crashing.runtime.faceapi.nets;
    const tiny = nets.tinyFaceDetector.locateFaces.bind(nets.tinyFaceDetector);
    const ssd = nets.ssdMobilenetv1.locateFaces.bind(nets.ssdMobilenetv1);
    const abort = async () => {
      throw new Error('Aborted()');
    };
    nets.tinyFaceDetector.locateFaces = abort as never;
    nets.ssdMobilenetv1.locateFaces = abort as never;
    try {
      await expect(crashing.analyze(amy)).rejects.toBeInstanceOf(EngineCrashedError);
    } finally {
      nets.tinyFaceDetector.locateFaces = tiny as never;
      nets.ssdMobilenetv1.locateFaces = ssd as never;
    }
    // The backend works again, but this engine's runtime may be corrupt: it never runs again.
    await expect(crashing.analyze(amy)).rejects.toMatchObject({ code: 'engine-crashed' });
    expect((await engine.analyze(amy)).faces).toHaveLength(1);
  }, 60_000);
});
