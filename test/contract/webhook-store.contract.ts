import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { BlobStore, WebhookEndpoint, WebhookStore } from '../../src/store/ports.js';
import { AlreadyExistsError } from '../../src/store/errors.js';
import { createWebhookDeliverer } from '../../src/webhooks/deliver.js';
import { makeJobRecord } from '../helpers/jobs.js';
import { startReceiver } from '../helpers/webhooks.js';

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

    it('disables an endpoint and enables it again, and never makes one that is absent', async () => {
      const a = anEndpoint('wh_a', 'c1', '2026-01-01T00:00:01.000Z');
      await h.webhooks.create(a);
      const disabled = { at: '2026-01-02T00:00:00.000Z', reason: 'gone' as const, status: 410, deliveryId: '00000000-0000-4000-8000-000000000001' };
      expect(await h.webhooks.setDisabled('c1', 'wh_a', disabled)).toEqual({ ...a, disabled });
      expect(await h.webhooks.get('c1', 'wh_a')).toEqual({ ...a, disabled });
      expect(await h.webhooks.list('c1')).toEqual([{ ...a, disabled }]);
      expect(await h.webhooks.setDisabled('c1', 'wh_a', null)).toEqual(a);
      expect(await h.webhooks.get('c1', 'wh_a')).toEqual(a);
      expect(await h.webhooks.setDisabled('c2', 'wh_a', disabled)).toBeNull();
      expect(await h.webhooks.setDisabled('c1', 'wh_zz', null)).toBeNull();
      expect(await h.webhooks.list('c2')).toEqual([]);
      expect(await h.webhooks.get('c1', 'wh_zz')).toBeNull();
    });

    it('a receiver answering 410 disables its endpoint (loopback receiver); a delivery made before is then skipped, not sent', async () => {
      const receiver = await startReceiver(() => ({ status: 410 }));
      try {
        const endpoint = { ...anEndpoint('wh_g', 'c1', '2026-01-01T00:00:01.000Z'), url: receiver.url };
        await h.webhooks.create(endpoint);
        const config = loadConfig({}, { FACEFLEET_WEBHOOK_ALLOW: '127.0.0.1' });
        const blobs = { get: async () => Buffer.from('{"type":"unknown.created"}') } as unknown as BlobStore;
        const deliverer = createWebhookDeliverer({ config, webhooks: h.webhooks, blobs, log: silentLogger() });
        const delivery = (id: string) => {
          const record = makeJobRecord({ id, kind: 'webhook', state: 'processing' });
          return { ...record, options: { ...record.options, collection: 'c1', webhook: { messageId: `msg_${id}`, type: 'unknown.created', endpointId: 'wh_g' } } };
        };
        await expect(deliverer.deliver(delivery('d1'))).rejects.toMatchObject({ status: 410, retryable: false });
        expect((await h.webhooks.get('c1', 'wh_g'))!.disabled).toMatchObject({ reason: 'gone', status: 410, deliveryId: 'd1' });
        expect(await deliverer.deliver(delivery('d2'))).toMatchObject({ delivery: { skipped: 'endpoint-disabled' } });
        expect(receiver.requests).toHaveLength(1);
      } finally {
        await receiver.close();
      }
    });

    it('refuses a duplicate id in a collection and keeps the first', async () => {
      const first = anEndpoint('wh_a', 'c1', '2026-01-01T00:00:01.000Z');
      await h.webhooks.create(first);
      await expect(h.webhooks.create({ ...first, url: 'https://hooks.example.com/other' })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await h.webhooks.get('c1', 'wh_a')).toEqual(first);
    });
  });
}
