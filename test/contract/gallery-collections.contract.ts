import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EnrolledFace, GalleryChange } from '../../src/store/ports.js';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../../src/store/errors.js';
import { aCluster, aDescriptor } from '../helpers/builders.js';
import type { GalleryHarness } from './gallery.contract.js';

/** Apply a feed to a map of face id -> identity, the way an index does. */
function apply(faces: Map<string, string>, changes: GalleryChange[]): void {
  for (const c of changes) {
    if (c.op === 'add') faces.set(c.face.id, c.face.identity);
    else if (c.op === 'remove') faces.delete(c.faceId);
    else if (c.op === 'remove-identity') for (const [id, who] of faces) if (who === c.identity) faces.delete(id);
  }
}

const byIdentity = (faces: EnrolledFace[]) => new Map(faces.map((f) => [f.id, f.identity]));

/** Collections, per-face removal, content hashes and the change feed. `make` gives a fresh gallery. */
export function galleryCollectionsContract(name: string, make: () => Promise<GalleryHarness>): void {
  describe(`Gallery collections contract: ${name}`, () => {
    let h: GalleryHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.gallery.close();
      await h.cleanup();
    });

    it('starts with the default collection, which the gallery itself is', async () => {
      expect((await h.gallery.listCollections()).map((c) => c.name)).toEqual(['default']);
      await h.gallery.addFace('Ada', { descriptor: aDescriptor(1) });
      expect(await h.gallery.getCollection('default')).toMatchObject({ name: 'default', identityCount: 1, faceCount: 1 });
      expect((await h.gallery.in('default').listFaces()).map((f) => f.identity)).toEqual(['Ada']);
    });

    it('creates collections with a threshold, refuses duplicates, and counts what is in them', async () => {
      const made = await h.gallery.createCollection('site-a', { threshold: 0.5 });
      expect(made).toMatchObject({ name: 'site-a', threshold: 0.5, identityCount: 0, faceCount: 0 });
      await expect(h.gallery.createCollection('site-a')).rejects.toBeInstanceOf(AlreadyExistsError);
      await h.gallery.createCollection('site-b');
      const a = h.gallery.in('site-a');
      await a.addFace('Ada', { descriptor: aDescriptor(1) });
      await a.addFace('Ada', { descriptor: aDescriptor(2) });
      await a.createIdentity('Bob');
      expect(await h.gallery.getCollection('site-a')).toMatchObject({ identityCount: 2, faceCount: 2, threshold: 0.5 });
      const listed = await h.gallery.listCollections();
      expect(listed.map((c) => [c.name, c.identityCount, c.faceCount])).toEqual([
        ['default', 0, 0],
        ['site-a', 2, 2],
        ['site-b', 0, 0],
      ]);
      expect(listed.find((c) => c.name === 'site-b')?.threshold).toBeUndefined();
      expect(await h.gallery.getCollection('nope')).toBeNull();
      // The settings alone, as every request reads them: the same collection, without its counts.
      const { identityCount: _i, faceCount: _f, ...settings } = (await h.gallery.getCollection('site-a'))!;
      expect(await h.gallery.findCollection('site-a')).toEqual(settings);
      expect(await h.gallery.findCollection('nope')).toBeNull();
    });

    it('stores quality gates with a collection, and changes or clears its settings, touching no other', async () => {
      const made = await h.gallery.createCollection('gates', { minQuality: 0.25, minEnrollQuality: 0.5 });
      expect(made).toMatchObject({ name: 'gates', minQuality: 0.25, minEnrollQuality: 0.5 });
      expect(made.threshold).toBeUndefined();
      await h.gallery.createCollection('other', { minQuality: 0.1 });
      expect(await h.gallery.updateCollection('gates', { minEnrollQuality: 0.7, threshold: 0.45 })).toMatchObject({ minQuality: 0.25, minEnrollQuality: 0.7, threshold: 0.45 });
      const cleared = await h.gallery.updateCollection('gates', { minQuality: null });
      expect(cleared).toMatchObject({ minEnrollQuality: 0.7, threshold: 0.45 });
      expect(cleared?.minQuality).toBeUndefined();
      expect(await h.gallery.getCollection('gates')).toEqual(cleared);
      expect(await h.gallery.updateCollection('gates', {})).toEqual(cleared);
      expect(await h.gallery.getCollection('other')).toMatchObject({ minQuality: 0.1 });
      expect(await h.gallery.updateCollection('absent', { minQuality: 0.3 })).toBeNull();
      expect(await h.gallery.getCollection('absent')).toBeNull();
      expect(await h.gallery.updateCollection('default', { minEnrollQuality: 0.6 })).toMatchObject({ name: 'default', minEnrollQuality: 0.6 });
    });

    it('keeps collections isolated: same identity name, separate faces', async () => {
      await h.gallery.createCollection('a');
      await h.gallery.createCollection('b');
      await h.gallery.in('a').addFace('Ada', { descriptor: aDescriptor(1) });
      await h.gallery.in('b').addFace('Ada', { descriptor: aDescriptor(2) });
      await h.gallery.in('b').addFace('Bob', { descriptor: aDescriptor(3) });
      expect((await h.gallery.in('a').listFaces()).map((f) => Array.from(f.descriptor)[0])).toEqual([Array.from(aDescriptor(1))[0]]);
      expect(await h.gallery.in('b').listFaces()).toHaveLength(2);
      expect(await h.gallery.listFaces()).toEqual([]);
      expect(await h.gallery.in('a').removeIdentity('Ada')).toBe(true);
      expect((await h.gallery.in('b').getIdentity('Ada'))?.faceCount).toBe(1);
    });

    it('eachFace visits what listFaces lists, in its order, one face at a time', async () => {
      await h.gallery.createCollection('rows');
      const view = h.gallery.in('rows');
      await view.addFace('Bob', { descriptor: aDescriptor(1) });
      await view.addFace('Ada', { descriptor: aDescriptor(2), pipeline: 'dlib-ensemble' });
      await view.addFace('Bob', { descriptor: aDescriptor(3) });
      await h.gallery.addFace('Other', { descriptor: aDescriptor(4) });
      const seen: { id: string; identity: string; descriptor: number[]; pipeline: string }[] = [];
      const n = await view.eachFace((f) => seen.push({ id: f.id, identity: f.identity, descriptor: Array.from(f.descriptor), pipeline: f.pipeline }));
      const listed = await view.listFaces();
      expect(n).toBe(3);
      expect(seen).toEqual(listed.map((f) => ({ id: f.id, identity: f.identity, descriptor: Array.from(f.descriptor), pipeline: f.pipeline })));
      expect(await h.gallery.in('ghost').eachFace(() => expect.fail('a missing collection has no faces'))).toBe(0);
    });

    it('writes to a missing collection throw NotFoundError; reads are empty', async () => {
      const ghost = h.gallery.in('ghost');
      await expect(ghost.addFace('Ada', { descriptor: aDescriptor(1) })).rejects.toBeInstanceOf(NotFoundError);
      await expect(ghost.createIdentity('Ada')).rejects.toBeInstanceOf(NotFoundError);
      expect(await ghost.listFaces()).toEqual([]);
      expect(await ghost.listIdentities()).toEqual([]);
      expect(await ghost.getIdentity('Ada')).toBeNull();
      expect(await h.gallery.getCollection('ghost')).toBeNull();
    });

    it('removes a collection with everything in it; a new one of the same name starts empty', async () => {
      await h.gallery.createCollection('gone');
      const before = await h.gallery.in('gone').version();
      await h.gallery.in('gone').addFace('Ada', { descriptor: aDescriptor(1) });
      await h.gallery.addFace('Keep', { descriptor: aDescriptor(2) });
      expect(await h.gallery.removeCollection('gone')).toBe(true);
      expect(await h.gallery.removeCollection('gone')).toBe(false);
      expect(await h.gallery.getCollection('gone')).toBeNull();
      await h.gallery.createCollection('gone');
      expect(await h.gallery.in('gone').listFaces()).toEqual([]);
      expect(await h.gallery.in('gone').listIdentities()).toEqual([]);
      // A copy of the old collection must not carry on from its version.
      expect(await h.gallery.in('gone').changesSince(before)).toBeNull();
      expect((await h.gallery.listFaces()).map((f) => f.identity)).toEqual(['Keep']);
    });

    it('removes one face, lists faces per identity, and finds a face by content hash', async () => {
      const one = await h.gallery.addFace('Ada', { descriptor: aDescriptor(1), contentHash: 'a'.repeat(64) });
      const two = await h.gallery.addFace('Ada', { descriptor: aDescriptor(2) });
      await h.gallery.addFace('Bob', { descriptor: aDescriptor(3), contentHash: 'a'.repeat(64) });
      expect(one.contentHash).toBe('a'.repeat(64));
      expect((await h.gallery.listFacesOf('Ada')).map((f) => f.id)).toEqual([one.id, two.id]);
      expect((await h.gallery.findFaceByHash('Ada', 'a'.repeat(64)))?.id).toBe(one.id);
      expect(await h.gallery.findFaceByHash('Ada', 'b'.repeat(64))).toBeNull();
      expect(await h.gallery.removeFace('Bob', one.id)).toBe(false);
      expect(await h.gallery.removeFace('Ada', one.id)).toBe(true);
      expect(await h.gallery.removeFace('Ada', one.id)).toBe(false);
      expect((await h.gallery.listFacesOf('Ada')).map((f) => f.id)).toEqual([two.id]);
      expect(await h.gallery.findFaceByHash('Ada', 'a'.repeat(64))).toBeNull();
      expect((await h.gallery.getIdentity('Ada'))?.faceCount).toBe(1);
    });

    it('feeds every change after a version, in order, and only that collection\'s', async () => {
      await h.gallery.createCollection('other');
      const v0 = await h.gallery.version();
      const otherV0 = await h.gallery.in('other').version();
      const a1 = await h.gallery.addFace('Ada', { descriptor: aDescriptor(1) });
      await h.gallery.in('other').addFace('Zed', { descriptor: aDescriptor(9) });
      const copy = byIdentity([]);
      const first = await h.gallery.changesSince(v0);
      expect(first).not.toBeNull();
      apply(copy, first!.changes);
      expect(copy).toEqual(new Map([[a1.id, 'Ada']]));
      const added = first!.changes.find((c) => c.op === 'add');
      expect(added && added.op === 'add' && Array.from(added.face.descriptor)).toEqual(Array.from(aDescriptor(1)));
      expect(first!.version).toBe(await h.gallery.version());

      const b1 = await h.gallery.addFace('Bob', { descriptor: aDescriptor(2) });
      const a2 = await h.gallery.addFace('Ada', { descriptor: aDescriptor(3) });
      await h.gallery.removeFace('Ada', a1.id);
      const second = await h.gallery.changesSince(first!.version);
      apply(copy, second!.changes);
      expect(copy).toEqual(new Map([[b1.id, 'Bob'], [a2.id, 'Ada']]));
      await h.gallery.removeIdentity('Ada');
      const third = await h.gallery.changesSince(second!.version);
      apply(copy, third!.changes);
      expect(copy).toEqual(byIdentity(await h.gallery.listFaces()));
      expect(await h.gallery.changesSince(third!.version)).toEqual({ version: third!.version, changes: [] });
      // The other collection's feed holds only its own face.
      const other = await h.gallery.in('other').changesSince(otherV0);
      expect(other?.changes.filter((c) => c.op === 'add').map((c) => c.op === 'add' && c.face.identity)).toEqual(['Zed']);
    });

    it("forgets a removed identity's name and a removed face's descriptor, change log included; a reader of the feed still drops every face", async () => {
      await h.gallery.createCollection('residue');
      const g = h.gallery.in('residue');
      const v0 = await g.version();
      const name = 'Grace Residue';
      const d1 = aDescriptor(71);
      const bytes = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      const f1 = await g.addFace(name, { descriptor: d1 });
      await g.addFace(name, { descriptor: aDescriptor(72) });
      const kept = await g.addFace('Kept Residue', { descriptor: aDescriptor(73) });
      const copy = byIdentity([]);
      const first = (await g.changesSince(v0))!;
      apply(copy, first.changes);
      if (h.contains) {
        const before = await h.contains({ name: Buffer.from(name), descriptor: bytes(d1) });
        for (const label of ['name', 'descriptor']) expect(before.some((f) => f.endsWith(`: ${label}`)), label).toBe(true);
      }
      // One face removed on its own, then the identity: the reader sees neither removal until now.
      expect(await g.removeFace(name, f1.id)).toBe(true);
      if (h.contains) expect(await h.contains({ descriptor: bytes(d1) })).toEqual([]);
      expect(await g.removeIdentity(name)).toBe(true);
      apply(copy, (await g.changesSince(first.version))!.changes);
      expect(copy).toEqual(new Map([[kept.id, 'Kept Residue']]));
      // A reader from the start never sees her either, and the feed does not name her.
      const all = (await g.changesSince(v0))!;
      const fresh = byIdentity([]);
      apply(fresh, all.changes);
      expect(fresh).toEqual(new Map([[kept.id, 'Kept Residue']]));
      expect(JSON.stringify(all.changes)).not.toContain(name);
      if (h.contains) {
        expect(await h.contains({ name: Buffer.from(name), descriptor: bytes(d1), second: bytes(aDescriptor(72)) })).toEqual([]);
        expect(await h.contains({ kept: Buffer.from('Kept Residue') })).not.toEqual([]);
      }
    });

    it('answers null for a version it cannot follow', async () => {
      expect(await h.gallery.changesSince('not-a-version')).toBeNull();
    });
    it('keeps unknown-tracking settings: off and 30 days by default, changed by updateCollection', async () => {
      expect(await h.gallery.createCollection('cam', { trackUnknowns: true, unknownRetentionDays: 7 })).toMatchObject({ trackUnknowns: true, unknownRetentionDays: 7 });
      expect(await h.gallery.getCollection('default')).toMatchObject({ trackUnknowns: false, unknownRetentionDays: 30 });
      const changed = await h.gallery.updateCollection('cam', { trackUnknowns: false });
      expect(changed).toMatchObject({ name: 'cam', trackUnknowns: false, unknownRetentionDays: 7 });
      expect(await h.gallery.updateCollection('cam', { threshold: 0.5, unknownRetentionDays: 1 })).toMatchObject({ threshold: 0.5, trackUnknowns: false, unknownRetentionDays: 1 });
      expect(await h.gallery.getCollection('cam')).toMatchObject({ threshold: 0.5, trackUnknowns: false, unknownRetentionDays: 1 });
      expect(await h.gallery.updateCollection('ghost', { trackUnknowns: true })).toBeNull();
    });

    it('stores unknown clusters per collection: create-if-absent, conditional saves, delete, list oldest first', async () => {
      await h.gallery.createCollection('cam');
      await h.gallery.createCollection('other');
      const store = h.gallery.unknowns('cam');
      const made = await store.create(aCluster(2));
      expect(made.version).toBe(1);
      await expect(store.create(aCluster(2))).rejects.toBeInstanceOf(AlreadyExistsError);
      await store.create(aCluster(1));
      await h.gallery.unknowns('other').create(aCluster(3));
      const got = await store.get(made.id);
      expect(got).toMatchObject({ id: made.id, version: 1, state: 'open', sightings: 1, recent: [{ jobId: 'job-2', box: { width: 30 } }] });
      expect(Array.from(got!.representatives[0]!.descriptor)).toEqual(Array.from(aDescriptor(2)));
      expect((await store.list()).map((c) => c.id)).toEqual([aCluster(1).id, aCluster(2).id]);

      expect(got!.template).toBeUndefined();
      const mean = Float32Array.from(aDescriptor(2), (v, i) => (v + aDescriptor(5)[i]!) / 2);
      const two = { ...got!, sightings: 2, representatives: [...got!.representatives, { id: 'rep-b', descriptor: aDescriptor(5), jobId: 'j5', at: got!.lastSeen }], template: { mean, faces: 2 } };
      const saved = await store.save(two, 1);
      expect(saved.version).toBe(2);
      await expect(store.save(two, 1)).rejects.toBeInstanceOf(VersionConflictError);
      const reread = await store.get(made.id);
      expect(reread?.representatives.map((r) => r.id)).toEqual(['rep2', 'rep-b']);
      expect(Array.from(reread!.representatives[1]!.descriptor)).toEqual(Array.from(aDescriptor(5)));
      expect(reread!.template?.faces).toBe(2);
      expect(Array.from(reread!.template!.mean)).toEqual(Array.from(mean));

      expect(await store.delete(made.id)).toBe(true);
      expect(await store.delete(made.id)).toBe(false);
      expect(await store.get(made.id)).toBeNull();
      await expect(store.save(two, 2)).rejects.toBeInstanceOf(NotFoundError);
      expect((await h.gallery.unknowns('other').list()).map((c) => c.id)).toEqual([aCluster(3).id]);
    });

    it('unknown clusters of a missing collection: writes throw NotFoundError, reads are empty; removing a collection removes its clusters', async () => {
      await expect(h.gallery.unknowns('ghost').create(aCluster(1))).rejects.toBeInstanceOf(NotFoundError);
      expect(await h.gallery.unknowns('ghost').list()).toEqual([]);
      expect(await h.gallery.unknowns('ghost').get(aCluster(1).id)).toBeNull();
      await h.gallery.createCollection('gone');
      await h.gallery.unknowns('gone').create(aCluster(1));
      expect(await h.gallery.removeCollection('gone')).toBe(true);
      await h.gallery.createCollection('gone');
      expect(await h.gallery.unknowns('gone').list()).toEqual([]);
    });
  });
}
