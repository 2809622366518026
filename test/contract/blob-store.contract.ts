import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/store/ports.js';
import { InvalidKeyError, NotFoundError } from '../../src/store/errors.js';
import { filesContaining } from '../helpers/residue.js';

export interface BlobStoreHarness {
  blobs: BlobStore;
  /** For a local backend, its directory: the deletion test then searches its files. Absent: gone means not found. */
  dataDir?: string;
  cleanup(): Promise<void>;
}

/** Keys that every BlobStore must refuse with InvalidKeyError. */
export const INVALID_BLOB_KEYS = [
  '',
  '../x',
  'a/../../x',
  'a/./b',
  '..',
  '.',
  '/etc/passwd',
  'a//b',
  'a/',
  'a\0b',
  'back\\slash',
  'sp ace',
  'ümlaut',
  'x'.repeat(2000),
];

/** The BlobStore contract: what every adapter promises. `make` gives a fresh, empty store. */
export function blobStoreContract(name: string, make: () => Promise<BlobStoreHarness>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let h: BlobStoreHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.blobs.close();
      await h.cleanup();
    });

    it('answers ping', async () => {
      await expect(h.blobs.ping()).resolves.toBeUndefined();
    });

    it('stores and returns bytes exactly', async () => {
      const body = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
      await h.blobs.put('jobs/abc/input', body, { contentType: 'image/jpeg' });
      const got = await h.blobs.get('jobs/abc/input');
      expect(Buffer.compare(got, body)).toBe(0);
    });

    it('stores an empty blob', async () => {
      await h.blobs.put('empty', Buffer.alloc(0));
      expect((await h.blobs.get('empty')).length).toBe(0);
      expect(await h.blobs.exists('empty')).toBe(true);
    });

    it('overwrites a key with the new value', async () => {
      await h.blobs.put('k', Buffer.from('first'));
      await h.blobs.put('k', Buffer.from('second, longer'));
      expect((await h.blobs.get('k')).toString()).toBe('second, longer');
    });

    it('keeps sibling keys apart', async () => {
      await h.blobs.put('jobs/j1/input', Buffer.from('in'));
      await h.blobs.put('jobs/j1/thumb', Buffer.from('th'));
      await h.blobs.put('jobs/j2/input', Buffer.from('other'));
      expect((await h.blobs.get('jobs/j1/input')).toString()).toBe('in');
      expect((await h.blobs.get('jobs/j1/thumb')).toString()).toBe('th');
      await h.blobs.delete('jobs/j1/input');
      expect((await h.blobs.get('jobs/j1/thumb')).toString()).toBe('th');
      expect((await h.blobs.get('jobs/j2/input')).toString()).toBe('other');
    });

    it('throws NotFoundError for a missing key', async () => {
      await expect(h.blobs.get('nope/missing')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('reports existence', async () => {
      expect(await h.blobs.exists('a/b.jpg')).toBe(false);
      await h.blobs.put('a/b.jpg', Buffer.from('x'));
      expect(await h.blobs.exists('a/b.jpg')).toBe(true);
    });

    it('a deleted blob is gone: not found, not listed, and its bytes in no file of the store', async () => {
      const image = Buffer.concat([Buffer.from('\xff\xd8\xff', 'latin1'), randomBytes(4096)]);
      await h.blobs.put('inputs/ab/abandoned', image, { contentType: 'image/jpeg' });
      await h.blobs.put('inputs/ab/kept', Buffer.from('kept'));
      await h.blobs.delete('inputs/ab/abandoned');
      await expect(h.blobs.get('inputs/ab/abandoned')).rejects.toBeInstanceOf(NotFoundError);
      expect(await h.blobs.exists('inputs/ab/abandoned')).toBe(false);
      if (h.blobs.listOlderThan) {
        expect(await h.blobs.listOlderThan('inputs/', new Date(Date.now() + 60_000), 100)).not.toContain('inputs/ab/abandoned');
      }
      if (h.dataDir !== undefined) {
        expect(await filesContaining(h.dataDir, { image: image.subarray(0, 1024), key: Buffer.from('abandoned') })).toEqual([]);
        expect(await filesContaining(h.dataDir, { kept: Buffer.from('kept') })).not.toEqual([]);
      }
    });

    it('deletes, and deleting again or deleting an absent key succeeds', async () => {
      await h.blobs.put('d/e', Buffer.from('x'));
      await h.blobs.delete('d/e');
      expect(await h.blobs.exists('d/e')).toBe(false);
      await expect(h.blobs.get('d/e')).rejects.toBeInstanceOf(NotFoundError);
      await expect(h.blobs.delete('d/e')).resolves.toBeUndefined();
      await expect(h.blobs.delete('never/was')).resolves.toBeUndefined();
    });

    it('accepts every character of the key alphabet', async () => {
      const key = 'AZaz09._-/x.y_z-1';
      await h.blobs.put(key, Buffer.from('ok'));
      expect((await h.blobs.get(key)).toString()).toBe('ok');
    });

    it('keeps a whole value under concurrent overwrites', async () => {
      const a = Buffer.alloc(256 * 1024, 'a');
      const b = Buffer.alloc(128 * 1024, 'b');
      await Promise.all([h.blobs.put('race', a), h.blobs.put('race', b), h.blobs.put('race', a)]);
      const got = await h.blobs.get('race');
      expect([a, b].some((v) => Buffer.compare(v, got) === 0)).toBe(true);
    });

    describe('refuses invalid keys with InvalidKeyError', () => {
      for (const key of INVALID_BLOB_KEYS) {
        it(`key ${JSON.stringify(key.length > 20 ? `${key.slice(0, 20)}...` : key)}`, async () => {
          await expect(h.blobs.put(key, Buffer.from('x'))).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(h.blobs.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(h.blobs.exists(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(h.blobs.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
        });
      }
    });
  });
}
