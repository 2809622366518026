/** Identification on the bbt crops (tight 150x150 greyscale faces) with the real model. */
import fs from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEngine, pickEnrollmentFace, verifyImages, type LoadedEngine } from '../../src/recognition/engine.js';
import { createGalleryIndex, recognizeFaces } from '../../src/recognition/matcher.js';
import type { GalleryFace } from '../../src/recognition/types.js';
import { dataDir } from '../helpers/images.js';

const PEOPLE = ['amy', 'bernadette', 'howard', 'leonard', 'penny', 'raj', 'sheldon', 'stuart'];

let engine: LoadedEngine;
/** descriptors[person][n-1] for image n of that person. */
const descriptors = new Map<string, Float32Array[]>();

beforeAll(async () => {
  engine = await loadEngine({ tfBackend: 'auto' });
  for (const person of PEOPLE) {
    const list: Float32Array[] = [];
    for (let n = 1; n <= 5; n++) {
      const analyzed = await engine.analyze(await fs.readFile(dataDir('bbt', person, `${person}${n}.png`)));
      // Every tight crop must yield exactly its one face.
      expect(analyzed.faces, `${person}${n}.png`).toHaveLength(1);
      list.push(pickEnrollmentFace(analyzed).descriptor);
    }
    descriptors.set(person, list);
  }
});

describe('bbt identification', () => {
  it('recognises images 3-5 of each person from a gallery of images 1-2: at least 23 of 24 top-1 at 0.6', () => {
    const gallery: GalleryFace[] = PEOPLE.flatMap((p) => [0, 1].map((i) => ({ identity: p, descriptor: descriptors.get(p)![i] })));
    const index = createGalleryIndex(gallery);
    let correct = 0;
    const wrong: string[] = [];
    for (const person of PEOPLE) {
      for (const i of [2, 3, 4]) {
        const r = index.match(descriptors.get(person)![i], { topK: 3, threshold: 0.6 });
        if (r.match?.identity === person) correct++;
        else wrong.push(`${person}${i + 1} -> ${r.match?.identity ?? 'unknown'} (${r.candidates.map((c) => `${c.identity} ${c.distance.toFixed(3)}`).join(', ')})`);
        expect(r.candidates.length).toBe(3);
      }
    }
    expect(correct, wrong.join('; ')).toBeGreaterThanOrEqual(23);
  });

  it('answers unknown for a person not enrolled, whoever that is: at least 4 of their 5 images', () => {
    for (const stranger of PEOPLE) {
      const gallery = PEOPLE.filter((p) => p !== stranger).flatMap((p) => descriptors.get(p)!.map((descriptor) => ({ identity: p, descriptor })));
      const index = createGalleryIndex(gallery);
      const unknown = descriptors.get(stranger)!.filter((d) => index.match(d, { threshold: 0.6 }).match === null).length;
      expect(unknown, `${stranger} came back unknown ${unknown}/5 times`).toBeGreaterThanOrEqual(4);
    }
  });

  it('recognizeFaces names the face in an enrolled crop', async () => {
    const index = createGalleryIndex(PEOPLE.map((p) => ({ identity: p, descriptor: descriptors.get(p)![0] })));
    const result = recognizeFaces(await engine.analyze(await fs.readFile(dataDir('bbt', 'raj', 'raj4.png'))), index, { topK: 2, threshold: 0.6 });
    expect(result.faces).toHaveLength(1);
    expect(result.faces[0].match?.identity).toBe('raj');
    expect(result.faces[0].candidates).toHaveLength(2);
  });

  it('verifyImages says same for one person and different for two', async () => {
    const read = (p: string, n: number) => fs.readFile(dataDir('bbt', p, `${p}${n}.png`));
    const same = await verifyImages(engine, await read('penny', 1), await read('penny', 3), 0.6);
    const diff = await verifyImages(engine, await read('penny', 1), await read('sheldon', 1), 0.6);
    expect(same.same).toBe(true);
    expect(diff.same).toBe(false);
    expect(diff.distance).toBeGreaterThan(same.distance);
  });
});
