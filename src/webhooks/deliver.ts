/**
 * The worker's side of a `webhook` job: one attempt sends the job's stored body to its receiver,
 * signed afresh (the `webhook-timestamp` is the attempt's; the `webhook-id` never changes), and
 * a failed attempt is planned: retried after an exponential backoff with full jitter, unless the
 * failure is permanent (410, a refused address) or the next try would fall past the retry window.
 * A 410 from an endpoint also disables the endpoint: no further deliveries are made for it until
 * an operator enables it again (`PATCH /v1/collections/:c/webhooks/:id`).
 */
import type { Config } from '../config.js';
import type { ErrorInfo } from '../errors.js';
import { retryBackoffSeconds } from '../jobs/effects.js';
import type { JobRecord, JobResult } from '../jobs/types.js';
import type { Logger } from '../log.js';
import type { BlobStore, WebhookStore } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { createAddressPolicy } from './address-policy.js';
import { WebhookDeliveryError, WebhookTargetGoneError } from './errors.js';
import { sendWebhook, type Resolver } from './send.js';
import { webhookHeaders } from './signature.js';

export interface WebhookDeliverer {
  /** One attempt at the delivery `record`. Resolves with the job's result on a 2xx; throws otherwise. */
  deliver(record: JobRecord): Promise<JobResult>;
  /**
   * What a failed attempt `attempt` (from 1) is stored as: the error (made permanent when the
   * window is over) and, when it will be retried, the earliest time of the next attempt.
   */
  plan(record: JobRecord, error: ErrorInfo, attempt: number): { error: ErrorInfo; retryAt?: string };
}

export interface WebhookDelivererDeps {
  config: Pick<Config, 'webhooks'>;
  webhooks: WebhookStore;
  blobs: BlobStore;
  log: Logger;
  /** Host resolution (tests); default the system resolver. */
  resolver?: Resolver;
  random?: () => number;
  now?: () => Date;
}

export function createWebhookDeliverer(deps: WebhookDelivererDeps): WebhookDeliverer {
  const settings = deps.config.webhooks;
  const policy = createAddressPolicy(settings.allow);
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;

  return {
    async deliver(record) {
      const options = record.options.webhook;
      if (!options) throw new WebhookTargetGoneError(`job ${record.id} is a webhook delivery without a target`);
      let target: { url: string; secret: string };
      if (options.endpointId !== undefined) {
        const endpoint = await deps.webhooks.get(record.options.collection ?? DEFAULT_COLLECTION, options.endpointId);
        // Removed since the event: the operator no longer wants it, so there is nothing to send.
        if (!endpoint) return { width: 0, height: 0, faces: [], delivery: { skipped: 'endpoint-removed' } };
        // Disabled after this delivery was made (a 410 to another one): nothing is sent until an
        // operator enables it again; a replay of this delivery then sends it.
        if (endpoint.disabled) return { width: 0, height: 0, faces: [], delivery: { skipped: 'endpoint-disabled' } };
        target = endpoint;
      } else if (options.callback) {
        target = options.callback;
      } else {
        throw new WebhookTargetGoneError(`job ${record.id} is a webhook delivery without a target`);
      }
      const body = await deps.blobs.get(record.input.key);
      const timestamp = Math.floor(now().getTime() / 1000);
      const headers = webhookHeaders(target.secret, options.messageId, timestamp, body);
      const sent = await sendWebhook(target.url, headers, body, {
        policy,
        timeoutMs: settings.timeoutMs,
        maxResponseBytes: settings.maxResponseBytes,
        resolver: deps.resolver,
      }).catch(async (err: unknown) => {
        // 410 Gone: the receiver wants no more deliveries (Standard Webhooks), so the endpoint is
        // disabled before the attempt is stored as failed; a crash in between repeats the attempt,
        // which gets the 410 again. A job's own callback is one delivery: nothing to disable.
        if (err instanceof WebhookDeliveryError && err.status === 410 && options.endpointId !== undefined) {
          const collection = record.options.collection ?? DEFAULT_COLLECTION;
          await deps.webhooks.setDisabled(collection, options.endpointId, { at: now().toISOString(), reason: 'gone', status: 410, deliveryId: record.id });
          deps.log.warn({ jobId: record.id, webhookId: options.endpointId, collection }, 'webhook endpoint disabled: the receiver answered 410 Gone');
        }
        throw err;
      });
      deps.log.info({ jobId: record.id, messageId: options.messageId, type: options.type, status: sent.status, ms: sent.ms }, 'webhook delivered');
      return { width: 0, height: 0, faces: [], delivery: { status: sent.status, ms: sent.ms } };
    },

    plan(record, error, attempt) {
      if (!error.retryable) return { error };
      const backoff = retryBackoffSeconds(attempt, settings.retryBaseSeconds, random, settings.maxBackoffSeconds);
      // Jitter may draw 0: at least a second, so a retry is never back-to-back.
      const retryAt = now().getTime() + Math.max(1, backoff) * 1000;
      const deadline = Date.parse(record.createdAt) + settings.retryWindowSeconds * 1000;
      if (retryAt > deadline) {
        return { error: { ...error, retryable: false, message: `${error.message}; the retry window (${settings.retryWindowSeconds} s) is over` } };
      }
      return { error, retryAt: new Date(retryAt).toISOString() };
    },
  };
}
