/**
 * Publishing: an event of a collection becomes one delivery job per receiver (each endpoint of
 * the collection that subscribed to the event type, and a job's own callback). A delivery job is
 * an ordinary durable job of kind `webhook`: its input blob is the JSON body, and the worker
 * sends it, retries it and dead-letters it like any job.
 *
 * Idempotent: a delivery's job id is derived from (receiver, collection, type, event key), so
 * publishing the same event again (a crash between a job's save and its announce effect, a
 * duplicate message) finds the deliveries already made and only makes sure they are queued.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { JobActionParams } from '../machines/job.js';
import type { JobRunner, NewJob } from '../jobs/runner.js';
import type { JobRecord } from '../jobs/types.js';
import { jobContext } from '../jobs/view.js';
import type { Logger } from '../log.js';
import { AlreadyExistsError, JobNotSentError } from '../store/errors.js';
import type { BlobStore, JobStore, WebhookStore } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { inputKey } from '../web/submit.js';
import { createAddressPolicy } from './address-policy.js';
import { WEBHOOK_JOB_OWNER, type WebhookEventType, type WebhookPayload } from './events.js';

export interface WebhookPublisher {
  /**
   * Publish one event of `collection` to its endpoints subscribed to `type`. `key` names the
   * event (e.g. the new unknown cluster's id): the same key publishes once. Returns the delivery
   * job ids. Does nothing when webhooks are off.
   */
  publishEvent(collection: string, type: WebhookEventType, data: Record<string, unknown>, options: { key: string; at?: string }): Promise<string[]>;
  /** The job machine's `announce` effect: `job.done` or `job.dead-lettered` for a finished job. */
  jobSettled(record: JobRecord, state: JobActionParams['announce']['state']): Promise<void>;
  /**
   * The delivery jobs made for a finished job's latest ending, to its collection's current
   * endpoints and its own callback (ids are derived, so nothing is looked up but the jobs).
   */
  deliveriesOf(record: JobRecord): Promise<Array<{ delivery: JobRecord; endpointId?: string; callback?: true }>>;
}

export interface WebhookPublisherDeps {
  config: Pick<Config, 'webhooks'>;
  webhooks: WebhookStore;
  blobs: BlobStore;
  jobs: JobStore;
  /** A getter: the runner's effects are built before the runner, and they hold this publisher. */
  runner: () => JobRunner;
  log: Logger;
}

interface Target {
  /** Stable name of the receiver, part of the delivery id. */
  ref: string;
  endpointId?: string;
  callback?: { url: string; secret: string };
}

/** A UUID-shaped id (job ids are UUIDs) derived from the delivery's identity. */
function deliveryId(parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function createWebhookPublisher(deps: WebhookPublisherDeps): WebhookPublisher {
  const { config, webhooks, blobs, jobs, log } = deps;
  const policy = createAddressPolicy(config.webhooks.allow);

  async function deliver(target: Target, collection: string, payload: WebhookPayload, key: string, sourceJobId?: string): Promise<string> {
    const id = deliveryId([target.ref, collection, payload.type, key]);
    const existing = await jobs.get(id);
    if (existing) {
      // Made before; a crash may have left it unqueued.
      if (existing.state === 'uploaded') await deps.runner().dispatch(id, { type: 'ENQUEUE' });
      return id;
    }
    const body = Buffer.from(JSON.stringify(payload));
    const blobKey = inputKey(id);
    await blobs.put(blobKey, body, { contentType: 'application/json' });
    const job: NewJob = {
      id,
      kind: 'webhook',
      input: { key: blobKey, contentType: 'application/json', bytes: body.length },
      options: {
        // A delivery matches nothing; the recognition fields are required of every job.
        topK: 0,
        threshold: 0,
        ...(collection !== DEFAULT_COLLECTION ? { collection } : {}),
        submittedBy: WEBHOOK_JOB_OWNER,
        webhook: {
          messageId: `msg_${id.replace(/-/g, '')}`,
          type: payload.type,
          ...(target.endpointId ? { endpointId: target.endpointId } : {}),
          ...(target.callback ? { callback: target.callback } : {}),
          ...(sourceJobId ? { sourceJobId } : {}),
        },
      },
      maxAttempts: config.webhooks.maxAttempts,
    };
    try {
      await deps.runner().submit(job);
    } catch (err) {
      // Already there: an earlier attempt of the same event made it. Stored but not sent: the
      // sweeper sends it. Either way the delivery exists once.
      if (!(err instanceof AlreadyExistsError) && !(err instanceof JobNotSentError)) throw err;
    }
    return id;
  }

  /** The event a finished job's latest ending is: its type, key and receivers beyond the endpoints. */
  function jobEvent(record: JobRecord, state: 'done' | 'dead-lettered') {
    const context = jobContext(record);
    const type: WebhookEventType = state === 'done' ? 'job.done' : 'job.dead-lettered';
    const callback = record.options.callback;
    // One event per ending: a replayed job that ends again is a new event.
    const key = `${record.id}:${state}:${context.attempts}`;
    return { context, type, key, extra: callback ? [{ ref: `callback:${record.id}`, callback }] : [] };
  }

  async function publish(collection: string, type: WebhookEventType, data: Record<string, unknown>, options: { key: string; at?: string; extra?: Target[]; sourceJobId?: string }): Promise<string[]> {
    if (policy.disabled) return [];
    // A disabled endpoint (a 410, or the operator) gets no new deliveries until it is enabled.
    const endpoints = (await webhooks.list(collection)).filter((e) => !e.disabled && e.events.includes(type));
    const targets: Target[] = [...endpoints.map((e) => ({ ref: `endpoint:${e.id}`, endpointId: e.id })), ...(options.extra ?? [])];
    if (targets.length === 0) return [];
    const payload: WebhookPayload = { type, timestamp: options.at ?? new Date().toISOString(), data };
    const ids: string[] = [];
    for (const target of targets) ids.push(await deliver(target, collection, payload, options.key, options.sourceJobId));
    log.info({ collection, type, key: options.key, deliveries: ids }, 'webhook event published');
    return ids;
  }

  return {
    publishEvent: (collection, type, data, options) => publish(collection, type, data, options),

    async jobSettled(record, state) {
      // A delivery's own end is never an event: no webhook about webhooks.
      if (record.kind === 'webhook') return;
      const { context, type, key, extra } = jobEvent(record, state);
      const collection = record.options.collection ?? DEFAULT_COLLECTION;
      const data: Record<string, unknown> = { jobId: record.id, kind: record.kind, collection, state, attempts: context.attempts };
      if (state === 'done' && context.result !== undefined) data.result = context.result;
      if (state === 'dead-lettered') {
        if (context.deadLetterReason !== undefined) data.reason = context.deadLetterReason;
        if (context.error !== undefined) data.error = context.error;
      }
      await publish(collection, type, data, { key, at: record.updatedAt, sourceJobId: record.id, extra });
    },

    async deliveriesOf(record) {
      if (record.state !== 'done' && record.state !== 'dead-lettered') return [];
      const { type, key, extra } = jobEvent(record, record.state);
      const collection = record.options.collection ?? DEFAULT_COLLECTION;
      const targets: Target[] = [...(await webhooks.list(collection)).map((e) => ({ ref: `endpoint:${e.id}`, endpointId: e.id })), ...extra];
      const out: Array<{ delivery: JobRecord; endpointId?: string; callback?: true }> = [];
      for (const target of targets) {
        const delivery = await jobs.get(deliveryId([target.ref, collection, type, key]));
        if (delivery) out.push({ delivery, ...(target.endpointId ? { endpointId: target.endpointId } : { callback: true as const }) });
      }
      return out;
    },
  };
}
