/** The worker's gallery copy: reloads on a version change, and warns about faces of another pipeline. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { otherPipelineWarning } from '../../src/recognition/matcher.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { createGalleryCache } from '../../src/worker/gallery-cache.js';
import { aDescriptor } from '../contract/builders.js';

let dir: string;
let stores: LocalStores;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-gc-'));
  stores = openLocalStores({ dataDir: dir });
});
afterEach(async () => {
  await stores.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('otherPipelineWarning', () => {
  it('counts the faces and identities of other pipelines, and is null when there are none', () => {
    const faces = [
      { identity: 'ada', pipeline: 'standard' as const },
      { identity: 'ada', pipeline: 'dlib-ensemble' as const },
      { identity: 'bob', pipeline: 'dlib-ensemble' as const },
      { identity: 'cy' },
    ];
    expect(otherPipelineWarning(faces, 'standard')).toBe(
      '2 gallery faces of 2 identities were enrolled with the dlib-ensemble pipeline, not standard; they are matched less accurately until re-enrolled with --pipeline standard',
    );
    expect(otherPipelineWarning(faces, 'dlib-ensemble')).toMatch(/^2 gallery faces of 2 identities were enrolled with the standard pipeline, not dlib-ensemble;/);
    expect(otherPipelineWarning(faces.slice(0, 1), 'dlib-ensemble')).toMatch(/^1 gallery face of 1 identity was enrolled/);
    expect(otherPipelineWarning([faces[0], faces[3]], 'standard')).toBeNull();
    expect(otherPipelineWarning([], 'dlib-ensemble')).toBeNull();
  });
});

describe('gallery cache', () => {
  it('reloads when the gallery changes and warns once per reload that finds faces of another pipeline', async () => {
    const warnings: string[] = [];
    let clock = 0;
    const cache = createGalleryCache(stores.gallery, { now: () => clock, pipeline: 'dlib-ensemble', log: { warn: (_: unknown, msg: string) => warnings.push(msg) } as never });
    await stores.gallery.addFace('ada', { descriptor: aDescriptor(1), pipeline: 'dlib-ensemble' });
    expect((await cache.get()).size).toBe(1);
    expect(warnings).toEqual([]);
    await stores.gallery.addFace('bob', { descriptor: aDescriptor(2) });
    expect((await cache.get()).size).toBe(1); // within the check interval: the old copy
    clock += 1000;
    expect((await cache.get()).size).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^1 gallery face of 1 identity was enrolled with the standard pipeline, not dlib-ensemble/);
    clock += 1000;
    await cache.get();
    expect(warnings).toHaveLength(1); // same version, no reload, no second warning
  });
});
