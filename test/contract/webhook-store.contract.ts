import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookEndpoint, WebhookStore } from '../../src/store/ports.js';
import { AlreadyExistsError } from '../../src/store/errors.js';

export interface WebhookStoreHarness {
  webhooks: WebhookStore;
  cleanup(): Promise<void>;
}

function anEndpoint(id: string, collection: string, createdAt: string): WebhookEndpoint {
  return { id, collection, url: `https://hooks.example.com/${id}`, events: ['job.done', 'unknown.created'], secret: `whsec_${id}`, createdAt };
}

/** The WebhookStore contract. `make` gives a fresh, empty store. */
export function webhookStoreContract(name: string, make: () => Promise<WebhookStoreHarness>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    let h: WebhookStoreHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.webhooks.close();
      await h.cleanup();
    });

    it('creates, gets, lists per collection (oldest first) and deletes endpoints', async () => {
      const b = anEndpoint('wh_b', 'c1', '2026-01-01T00:00:02.000Z');
      const a = anEndpoint('wh_a', 'c1', '2026-01-01T00:00:01.000Z');
      const other = anEndpoint('wh_c', 'c2', '2026-01-01T00:00:00.000Z');
      for (const e of [b, a, other]) await h.webhooks.create(e);
      expect(await h.webhooks.get('c1', 'wh_a')).toEqual(a);
      expect(await h.webhooks.get('c2', 'wh_a')).toBeNull();
      expect(await h.webhooks.list('c1')).toEqual([a, b]);
      expect(await h.webhooks.list('c2')).toEqual([other]);
      expect(await h.webhooks.list('nope')).toEqual([]);
      expect(await h.webhooks.delete('c1', 'wh_a')).toBe(true);
      expect(await h.webhooks.delete('c1', 'wh_a')).toBe(false);
      expect(await h.webhooks.list('c1')).toEqual([b]);
    });

    it('refuses a duplicate id in a collection and keeps the first', async () => {
      const first = anEndpoint('wh_a', 'c1', '2026-01-01T00:00:01.000Z');
      await h.webhooks.create(first);
      await expect(h.webhooks.create({ ...first, url: 'https://hooks.example.com/other' })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await h.webhooks.get('c1', 'wh_a')).toEqual(first);
    });
  });
}
