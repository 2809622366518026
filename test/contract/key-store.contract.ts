import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiKeyRecord, KeyStore } from '../../src/store/ports.js';
import { AlreadyExistsError } from '../../src/store/errors.js';

export interface KeyStoreHarness {
  keys: KeyStore;
  cleanup(): Promise<void>;
}

function aKey(id: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return { id, name: `key ${id}`, role: 'client', hash: 'ab'.repeat(32), salt: 'cd'.repeat(16), createdAt: new Date().toISOString(), ...overrides };
}

/** The KeyStore contract. `make` gives a fresh, empty store. */
export function keyStoreContract(name: string, make: () => Promise<KeyStoreHarness>): void {
  describe(`KeyStore contract: ${name}`, () => {
    let h: KeyStoreHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.keys.close();
      await h.cleanup();
    });

    it('creates, gets and lists keys', async () => {
      const a = aKey('ffk_a', { role: 'operator' });
      const b = aKey('ffk_b');
      await h.keys.create(a);
      await h.keys.create(b);
      expect(await h.keys.get('ffk_a')).toEqual(a);
      expect(await h.keys.get('ffk_missing')).toBeNull();
      const listed = await h.keys.list();
      expect(listed.map((k) => k.id).sort()).toEqual(['ffk_a', 'ffk_b']);
      expect(listed.find((k) => k.id === 'ffk_b')).toEqual(b);
    });

    it('refuses a duplicate id with AlreadyExistsError', async () => {
      await h.keys.create(aKey('ffk_dup'));
      await expect(h.keys.create(aKey('ffk_dup', { role: 'operator' }))).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await h.keys.get('ffk_dup'))?.role).toBe('client');
    });

    it('revokes a key, and reports false for an unknown one', async () => {
      await h.keys.create(aKey('ffk_r'));
      const at = new Date().toISOString();
      expect(await h.keys.revoke('ffk_r', at)).toBe(true);
      expect((await h.keys.get('ffk_r'))?.revokedAt).toBe(at);
      expect(await h.keys.revoke('ffk_none', at)).toBe(false);
    });
  });
}
