/** The worker's gallery copy: reloads on a version change, and warns about faces of another pipeline. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { otherPipelineWarning } from '../../src/recognition/matcher.js';
import { DEFAULT_COLLECTION } from '../../src/store/ports.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { createGalleryCache } from '../../src/worker/gallery-cache.js';
import { aDescriptor, sleep } from '../helpers/builders.js';

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
  it('loads a collection row by row (eachFace), never asking for every face as objects', async () => {
    await stores.gallery.addFace('ada', { descriptor: aDescriptor(1) });
    await stores.gallery.addFace('bob', { descriptor: aDescriptor(2), pipeline: 'dlib-ensemble' });
    const warnings: string[] = [];
    // The cache reads through the collection's view, which `in()` keeps: refuse whole-list reads there.
    vi.spyOn(stores.gallery.in(DEFAULT_COLLECTION), 'listFaces').mockRejectedValue(new Error('listFaces on a full load'));
    const cache = createGalleryCache(stores.gallery, { log: { warn: (_: unknown, msg: string) => warnings.push(msg) } as never });
    const index = await cache.get();
    expect(index.size).toBe(2);
    expect(index.match(aDescriptor(2)).candidates[0]).toMatchObject({ identity: 'bob', distance: 0 });
    expect(warnings).toEqual([expect.stringMatching(/^1 gallery face of 1 identity was enrolled with the dlib-ensemble pipeline/)]);
  });

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

  it('follows another process\'s enrollment through the change feed, without a full reload', async () => {
    await stores.gallery.createCollection('site');
    const site = stores.gallery.in('site');
    await site.addFace('ada', { descriptor: aDescriptor(1) });
    await stores.gallery.addFace('elsewhere', { descriptor: aDescriptor(2) });
    let clock = 0;
    const cache = createGalleryCache(stores.gallery, { now: () => clock });
    const before = await cache.get('site');
    expect(before.size).toBe(1);
    expect(before.match(aDescriptor(2)).match).toBeNull();
    expect(cache.stats()).toMatchObject({ fullLoads: 1, incrementalSyncs: 0 });

    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/helpers/gallery-child.ts', dir, 'site', 'bob', '2']);
    const faceId = stdout.trim();
    expect(faceId).toMatch(/^[0-9a-f-]{36}$/);
    clock += 1000;
    const after = await cache.get('site');
    expect(after.size).toBe(2);
    expect(after.match(aDescriptor(2)).match).toMatchObject({ identity: 'bob', distance: 0 });
    expect(after.version).toBe(await site.version());
    // The new face came from the feed: still the one full load, one incremental sync.
    expect(cache.stats()).toEqual({ fullLoads: 1, incrementalSyncs: 1, changesApplied: 2, graphBuildMs: 0, indexLoads: 0, indexRejected: 0, indexSaves: 0 });

    await site.removeIdentity('ada');
    const removed = await cache.fresh('site');
    expect(removed.size).toBe(1);
    expect(removed.match(aDescriptor(1)).candidates.map((c) => c.identity)).toEqual(['bob']);
    expect(cache.stats().fullLoads).toBe(1);
    // The default collection's face never appears in site's index.
    expect(removed.match(aDescriptor(2), { topK: 5 }).candidates.map((c) => c.identity)).toEqual(['bob']);
  });

  it('builds a large collection\'s graph in the background, matching exactly until it is done, then follows the feed on the graph', async () => {
    await stores.gallery.createCollection('big');
    const big = stores.gallery.in('big');
    for (let i = 0; i < 120; i++) await big.addFace(`p${i}`, { descriptor: aDescriptor(i + 1) });
    const cache = createGalleryCache(stores.gallery, { checkIntervalMs: 0, index: { graphAbove: 100 }, graphSliceMs: 0 });
    const first = await cache.get('big');
    // Loaded, answering by the exact scan while the graph is built in slices.
    expect(first.approximate).toBe(false);
    expect(first.match(aDescriptor(7), { topK: 1 }).candidates).toEqual([{ identity: 'p6', distance: 0 }]);
    for (let i = 0; i < 200 && !first.approximate; i++) await sleep(10);
    expect(first.approximate).toBe(true);
    expect(cache.stats().graphBuildMs).toBeGreaterThan(0);
    expect(first.match(aDescriptor(7), { topK: 1 }).candidates).toEqual([{ identity: 'p6', distance: 0 }]);
    await big.addFace('late', { descriptor: aDescriptor(500) });
    const after = await cache.get('big');
    expect(after.approximate).toBe(true);
    expect(after.match(aDescriptor(500), { topK: 1 }).candidates).toEqual([{ identity: 'late', distance: 0 }]);
    expect(cache.stats().fullLoads).toBe(1);
  });

  it('saves a built graph and loads it in another cache, following the feed from its version; a corrupt or stale file is rebuilt', async () => {
    await stores.gallery.createCollection('kept');
    const kept = stores.gallery.in('kept');
    for (let i = 0; i < 120; i++) await kept.addFace(`p${i}`, { descriptor: aDescriptor(i + 1) });
    await kept.removeFace('p3', (await kept.listFacesOf('p3'))[0]!.id);
    const indexDir = path.join(dir, 'index-cache');
    const opts = { checkIntervalMs: 0, index: { graphAbove: 100, graph: 'usearch' as const }, graphSliceMs: 0, indexDir };
    const first = createGalleryCache(stores.gallery, opts);
    const built = await first.get('kept');
    for (let i = 0; i < 200 && first.stats().indexSaves === 0; i++) await sleep(10);
    expect(built.graphKind).toBe('usearch');
    expect(first.stats().indexSaves).toBe(1);
    // Changes after the save reach the next worker through the feed (create-identity, add, remove-identity).
    await kept.addFace('late', { descriptor: aDescriptor(500) });
    await kept.removeIdentity('p9');
    const second = createGalleryCache(stores.gallery, opts);
    const loaded = await second.get('kept');
    expect(second.stats()).toMatchObject({ indexLoads: 1, fullLoads: 0, changesApplied: 3 });
    expect(loaded.approximate).toBe(true);
    expect(loaded.size).toBe(119);
    expect(loaded.match(aDescriptor(500), { topK: 1 }).candidates).toEqual([{ identity: 'late', distance: 0 }]);
    expect(loaded.match(aDescriptor(8), { topK: 1 }).candidates).toEqual([{ identity: 'p7', distance: 0 }]);
    expect(loaded.match(aDescriptor(10), { topK: 3 }).candidates.map((c) => c.identity)).not.toContain('p9');
    expect(loaded.match(aDescriptor(4), { topK: 3 }).candidates.map((c) => c.identity)).not.toContain('p3');
    // The saved file held p9, whom the feed removed: it is gone from the disk, not kept.
    expect(await fs.readdir(indexDir)).toEqual([]);

    // The next worker builds and saves again; one flipped byte in the rows is detected and rebuilt.
    const rebuilt = createGalleryCache(stores.gallery, opts);
    await rebuilt.get('kept');
    for (let i = 0; i < 200 && rebuilt.stats().indexSaves === 0; i++) await sleep(10);
    expect(rebuilt.stats()).toMatchObject({ indexSaves: 1, fullLoads: 1 });
    const file = (await fs.readdir(indexDir)).find((f) => f.endsWith('.index'))!;
    const bytes = await fs.readFile(path.join(indexDir, file));
    bytes[bytes.length - 5] ^= 0xff;
    await fs.writeFile(path.join(indexDir, file), bytes);
    const third = createGalleryCache(stores.gallery, opts);
    expect((await third.get('kept')).match(aDescriptor(500), { topK: 1 }).candidates[0]!.identity).toBe('late');
    expect(third.stats()).toMatchObject({ indexRejected: 1, indexLoads: 0, fullLoads: 1 });
    for (let i = 0; i < 200 && third.stats().indexSaves === 0; i++) await sleep(10);
    expect(third.stats().indexSaves).toBe(1);

    // Another incarnation of the collection: the saved version is stale.
    await stores.gallery.removeCollection('kept');
    await stores.gallery.createCollection('kept');
    await stores.gallery.in('kept').addFace('bob', { descriptor: aDescriptor(2) });
    const fourth = createGalleryCache(stores.gallery, opts);
    expect((await fourth.get('kept')).match(aDescriptor(2), { topK: 5 }).candidates.map((c) => c.identity)).toEqual(['bob']);
    expect(fourth.stats()).toMatchObject({ indexRejected: 1, indexLoads: 0, fullLoads: 1 });
  });

  it('reloads in full when the collection was removed and made again', async () => {
    await stores.gallery.createCollection('again');
    await stores.gallery.in('again').addFace('ada', { descriptor: aDescriptor(1) });
    const cache = createGalleryCache(stores.gallery, { checkIntervalMs: 0 });
    expect((await cache.get('again')).size).toBe(1);
    await stores.gallery.removeCollection('again');
    await stores.gallery.createCollection('again');
    await stores.gallery.in('again').addFace('bob', { descriptor: aDescriptor(2) });
    const index = await cache.get('again');
    expect(index.match(aDescriptor(1), { topK: 5 }).candidates.map((c) => c.identity)).toEqual(['bob']);
    expect(cache.stats().fullLoads).toBe(2);
  });
});
