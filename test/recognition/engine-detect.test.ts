/** Detection across image kinds, bad input and resource hygiene, with the real model. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../../src/recognition/decode.js';
import { DEFAULT_STRATEGY } from '../../src/recognition/detect.js';
import { loadEngine, pickEnrollmentFace, type LoadedEngine } from '../../src/recognition/engine.js';
import { ImageError, MultipleFacesError, NoFaceError } from '../../src/recognition/errors.js';
import { euclidean } from '../../src/recognition/matcher.js';
import type { AnalyzedImage, DetectedFace } from '../../src/recognition/types.js';
import { distinctCse546 } from '../helpers/cse546.js';
import { BESIDE_NEIGHBOUR, besideCrop, dataDir, faceApiDemo, oneFaceCut, pngBomb, rotatedJpeg, svgImage, truncate } from '../helpers/images.js';

let engine: LoadedEngine;
let tmp: string;

beforeAll(async () => {
  engine = await loadEngine({ tfBackend: 'auto' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
});
afterAll(async () => {
  await engine?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

function expectBoxesInside(a: AnalyzedImage): void {
  for (const f of a.faces) {
    expect(f.box.x).toBeGreaterThanOrEqual(0);
    expect(f.box.y).toBeGreaterThanOrEqual(0);
    expect(f.box.x + f.box.width).toBeLessThanOrEqual(a.width + 1e-6);
    expect(f.box.y + f.box.height).toBeLessThanOrEqual(a.height + 1e-6);
    expect(f.descriptor).toHaveLength(128);
    expect(f.score).toBeGreaterThan(0);
  }
}

describe('detection', () => {
  it('names its backend and strategy', () => {
    expect(['wasm', 'tensorflow']).toContain(engine.backend);
    expect(engine.detector).toBe('cascade');
  });

  it('finds exactly one face in each of the ten distinct CSE546 64x64 crops', async () => {
    const distinct = await distinctCse546();
    expect(distinct).toHaveLength(10);
    for (const img of distinct) {
      expect(img.copies).toBe(100);
      const a = await engine.analyze(img.buffer);
      expect([a.width, a.height]).toEqual([64, 64]);
      expect(a.faces, `${img.file} (${img.name})`).toHaveLength(1);
      expectBoxesInside(a);
    }
  });

  it('finds exactly one face in each of the 40 bbt 150x150 crops (the joining pass adds no second box of the same face)', async () => {
    const root = dataDir('bbt');
    const people = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    const crops = (await Promise.all(people.map(async (p) => (await fs.readdir(path.join(root, p))).map((f) => path.join(root, p, f))))).flat();
    expect(crops).toHaveLength(40);
    for (const file of crops) {
      const a = await engine.analyze(await fs.readFile(file));
      expect(a.faces, file).toHaveLength(1);
      expect(a.faces[0].box.width).toBeGreaterThan(50);
    }
  });

  it('finds every clearly visible face in the group shots', async () => {
    const expected: Record<string, number> = { 'bbt1.jpg': 4, 'bbt2.jpg': 2, 'bbt3.jpg': 5, 'bbt4.jpg': 6, 'bbt5.jpg': 5 };
    for (const [file, count] of Object.entries(expected)) {
      const a = await engine.analyze(await fs.readFile(dataDir('bbt', file)));
      expect(a.faces.length, file).toBeGreaterThanOrEqual(count);
      // Spurious extra detections would show up as more faces than people in the shot.
      expect(a.faces.length, file).toBeLessThanOrEqual(count + 1);
      expectBoxesInside(a);
      // Largest first.
      const areas = a.faces.map((f) => f.box.width * f.box.height);
      expect(areas).toEqual([...areas].sort((x, y) => y - x));
    }
  });

  it('finds the second person of a small photo when its first pass finds only one (the joining padded pass)', async () => {
    const image = await besideCrop('penny');
    // The same cascade with no joining pass stops at pass 0, which sees only Penny's tight crop.
    const stopping = await loadEngine({ strategy: { ...DEFAULT_STRATEGY, small: DEFAULT_STRATEGY.small.map((p) => ({ ...p, join: false })) } });
    const alone = await stopping.analyze(image);
    await stopping.close();
    expect(alone.faces).toHaveLength(1);
    const a = await engine.analyze(image);
    expect(a.faces).toHaveLength(2);
    expectBoxesInside(a);
    // The first pass's face is kept as it was, and the one added is another face, on the left.
    const kept = a.faces.find((f) => JSON.stringify(f.box) === JSON.stringify(alone.faces[0].box));
    const added = a.faces.find((f) => f !== kept)!;
    expect(kept).toBeDefined();
    expect(added.box.x + added.box.width / 2).toBeLessThan(BESIDE_NEIGHBOUR.width);
    expect(kept!.box.x + kept!.box.width / 2).toBeGreaterThan(BESIDE_NEIGHBOUR.width);
    // And it is the person of bbt5.jpg the left half was cut from, and Penny is not.
    const group = await engine.analyze(await fs.readFile(dataDir('bbt', 'bbt5.jpg')));
    const cx = BESIDE_NEIGHBOUR.left + BESIDE_NEIGHBOUR.width / 2, cy = BESIDE_NEIGHBOUR.top + BESIDE_NEIGHBOUR.height / 2;
    const source = group.faces.reduce((best, f) => {
      const d = (g: DetectedFace) => Math.hypot(g.box.x + g.box.width / 2 - cx, g.box.y + g.box.height / 2 - cy);
      return d(f) < d(best) ? f : best;
    });
    expect(euclidean(added.descriptor, source.descriptor)).toBeLessThan(0.6);
    expect(euclidean(kept!.descriptor, source.descriptor)).toBeGreaterThan(0.6);
  });

  it('finds faces in the large demo photos', async () => {
    for (let n = 1; n <= 6; n++) {
      const a = await engine.analyze(await fs.readFile(faceApiDemo(n)));
      expect(a.faces.length, `sample${n}.jpg`).toBeGreaterThanOrEqual(1);
      expect(a.width).toBeGreaterThan(1000);
      expectBoxesInside(a);
    }
  });

  it('reports boxes in the EXIF-rotated frame and describes the face the same way', async () => {
    const original = await sharp(await oneFaceCut('bbt1@927,16')).jpeg({ quality: 95 }).toBuffer();
    const upright = await engine.analyze(original);
    const rotated = await engine.analyze(await rotatedJpeg(original, 6));
    expect(rotated.faces).toHaveLength(1);
    expect([rotated.width, rotated.height]).toEqual([upright.width, upright.height]);
    const [u, r] = [upright.faces[0], rotated.faces[0]];
    expect(Math.abs(u.box.x + u.box.width / 2 - (r.box.x + r.box.width / 2))).toBeLessThan(10);
    expect(Math.abs(u.box.y + u.box.height / 2 - (r.box.y + r.box.height / 2))).toBeLessThan(10);
    // Same face: well inside the 0.6 match radius (re-encoding costs a little).
    expect(euclidean(u.descriptor, r.descriptor)).toBeLessThan(0.2);
  });
});

describe('bad input', () => {
  it('gets a typed error and leaves the engine working', async () => {
    const jpeg = await fs.readFile(dataDir('bbt', 'bbt2.jpg'));
    const textFile = path.join(tmp, 'photo.jpg');
    await fs.writeFile(textFile, 'not a photo at all');
    const cases: Array<[string, Buffer, string]> = [
      ['empty', Buffer.alloc(0), 'empty-image'],
      ['text named .jpg', await readImageFile(textFile), 'not-an-image'],
      ['truncated JPEG', truncate(jpeg, 0.4), 'truncated-image'],
      ['PNG bomb', await pngBomb(), 'too-many-pixels'],
      ['SVG', svgImage(), 'unsupported-format'],
    ];
    for (const [label, buf, code] of cases) {
      const err = await engine.analyze(buf).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, label).toBeInstanceOf(ImageError);
      expect((err as ImageError).code, label).toBe(code);
    }
    await expect(readImageFile(tmp)).rejects.toMatchObject({ code: 'not-a-file' });
    // Still serving after all that.
    const ok = await engine.analyze(await fs.readFile(dataDir('bbt', 'amy', 'amy3.png')));
    expect(ok.faces).toHaveLength(1);
  });

  it('enrollment wants exactly one face unless asked for the largest', async () => {
    const group = await engine.analyze(await fs.readFile(dataDir('bbt', 'bbt1.jpg')));
    expect(() => pickEnrollmentFace(group)).toThrow(MultipleFacesError);
    try {
      pickEnrollmentFace(group);
    } catch (e) {
      expect((e as MultipleFacesError).count).toBe(group.faces.length);
      expect((e as MultipleFacesError).code).toBe('multiple-faces');
    }
    const largest = pickEnrollmentFace(group, { largest: true });
    expect(largest.box.width * largest.box.height).toBe(Math.max(...group.faces.map((f) => f.box.width * f.box.height)));
    expect(() => pickEnrollmentFace({ width: 10, height: 10, faces: [] })).toThrow(NoFaceError);
  });
});

describe('resources', () => {
  it('keeps the tensor count flat over many images, including failures and concurrent calls', async () => {
    const inputs = [
      await fs.readFile(dataDir('bbt', 'bbt3.jpg')),
      (await distinctCse546())[0].buffer,
      await fs.readFile(dataDir('bbt', 'howard', 'howard1.png')),
      Buffer.from('garbage'),
    ];
    await engine.analyze(inputs[0]);
    const before = engine.runtime.tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      // Concurrent calls are queued inside the engine, never interleaved.
      await Promise.allSettled(inputs.map((b) => engine.analyze(b)));
    }
    expect(engine.runtime.tf.memory().numTensors).toBe(before);
  });
});
