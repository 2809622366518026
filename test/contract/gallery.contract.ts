import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Gallery } from '../../src/store/ports.js';
import { AlreadyExistsError } from '../../src/store/errors.js';
import { aDescriptor } from '../helpers/builders.js';

export interface GalleryHarness {
  gallery: Gallery;
  cleanup(): Promise<void>;
  /**
   * Optional: where the store keeps its rows, searched raw for each needle (the SQLite files, or
   * every item of the DynamoDB table); answers `where: label` for each hit. For the residue checks.
   */
  contains?(needles: Record<string, Buffer>): Promise<string[]>;
}

/** The Gallery contract. `make` gives a fresh, empty gallery. */
export function galleryContract(name: string, make: () => Promise<GalleryHarness>): void {
  describe(`Gallery contract: ${name}`, () => {
    let h: GalleryHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.gallery.close();
      await h.cleanup();
    });

    it('answers ping and starts empty', async () => {
      await expect(h.gallery.ping()).resolves.toBeUndefined();
      expect(await h.gallery.listIdentities()).toEqual([]);
      expect(await h.gallery.listFaces()).toEqual([]);
    });

    it('creates an identity with no faces', async () => {
      const identity = await h.gallery.createIdentity("Mary O'Brien-Smith");
      expect(identity).toMatchObject({ name: "Mary O'Brien-Smith", faceCount: 0 });
      expect(Number.isNaN(Date.parse(identity.createdAt))).toBe(false);
      expect(await h.gallery.getIdentity("Mary O'Brien-Smith")).toEqual(identity);
    });

    it('refuses a duplicate identity with AlreadyExistsError; names are case-sensitive', async () => {
      await h.gallery.createIdentity('Paul');
      await expect(h.gallery.createIdentity('Paul')).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(h.gallery.createIdentity('paul')).resolves.toMatchObject({ name: 'paul' });
    });

    it('returns null for an unknown identity', async () => {
      expect(await h.gallery.getIdentity('Nobody')).toBeNull();
    });

    it('adds faces, creating the identity when needed, and keeps descriptors exactly', async () => {
      const face = await h.gallery.addFace('Ada', { descriptor: aDescriptor(1), source: 'ada-1.jpg' });
      expect(face).toMatchObject({ identity: 'Ada', source: 'ada-1.jpg' });
      expect(typeof face.id).toBe('string');
      await h.gallery.addFace('Ada', { descriptor: aDescriptor(2) });
      await h.gallery.createIdentity('Bob');
      await h.gallery.addFace('Bob', { descriptor: aDescriptor(3), source: 'bob.jpg' });

      expect((await h.gallery.getIdentity('Ada'))?.faceCount).toBe(2);
      const identities = await h.gallery.listIdentities();
      expect(identities.map((i) => [i.name, i.faceCount]).sort()).toEqual([
        ['Ada', 2],
        ['Bob', 1],
      ]);

      const faces = await h.gallery.listFaces();
      expect(faces).toHaveLength(3);
      const first = faces.find((f) => f.id === face.id);
      expect(first?.descriptor).toBeInstanceOf(Float32Array);
      expect(Array.from(first?.descriptor ?? [])).toEqual(Array.from(aDescriptor(1)));
      expect(first?.source).toBe('ada-1.jpg');
      expect(faces.filter((f) => f.identity === 'Ada')).toHaveLength(2);
    });

    it('records the pipeline that made each descriptor, standard unless told', async () => {
      const plain = await h.gallery.addFace('Ada', { descriptor: aDescriptor(1) });
      const ensemble = await h.gallery.addFace('Ada', { descriptor: aDescriptor(2), pipeline: 'dlib-ensemble' });
      expect(plain.pipeline).toBe('standard');
      expect(ensemble.pipeline).toBe('dlib-ensemble');
      const byId = new Map((await h.gallery.listFaces()).map((f) => [f.id, f.pipeline]));
      expect(byId).toEqual(new Map([[plain.id, 'standard'], [ensemble.id, 'dlib-ensemble']]));
    });

    it('removes an identity with all its faces', async () => {
      await h.gallery.addFace('Ada', { descriptor: aDescriptor(1) });
      await h.gallery.addFace('Ada', { descriptor: aDescriptor(2) });
      await h.gallery.addFace('Bob', { descriptor: aDescriptor(3) });
      expect(await h.gallery.removeIdentity('Ada')).toBe(true);
      expect(await h.gallery.getIdentity('Ada')).toBeNull();
      expect((await h.gallery.listFaces()).map((f) => f.identity)).toEqual(['Bob']);
      expect(await h.gallery.removeIdentity('Ada')).toBe(false);
      expect(await h.gallery.removeIdentity('Never')).toBe(false);
      // Re-enrolling starts from zero faces.
      await h.gallery.addFace('Ada', { descriptor: aDescriptor(4) });
      expect((await h.gallery.getIdentity('Ada'))?.faceCount).toBe(1);
    });

    it('changes version on every mutation and only then', async () => {
      const seen = new Set<string>();
      const expectNew = async () => {
        const v = await h.gallery.version();
        expect(typeof v).toBe('string');
        expect(seen.has(v)).toBe(false);
        seen.add(v);
        expect(await h.gallery.version()).toBe(v);
      };
      await expectNew();
      await h.gallery.createIdentity('Ada');
      await expectNew();
      await h.gallery.addFace('Ada', { descriptor: aDescriptor(1) });
      await expectNew();
      await h.gallery.addFace('Cy', { descriptor: aDescriptor(2) });
      await expectNew();
      await h.gallery.removeIdentity('Ada');
      await expectNew();
      await h.gallery.listFaces();
      await h.gallery.listIdentities();
      await h.gallery.getIdentity('Cy');
      expect(seen.has(await h.gallery.version())).toBe(true);
    });
  });
}
