/**
 * The delivery retry schedule: exponential backoff with full jitter, capped per wait, stopped
 * by the retry window; and how a retry time longer than a queue delay is carried by messages.
 */
import { describe, expect, it } from 'vitest';
import { configToEnv, loadConfig } from '../../src/config.js';
import { createJobEffects, MAX_MESSAGE_DELAY_SECONDS } from '../../src/jobs/effects.js';
import { silentLogger } from '../../src/log.js';
import { createWebhookDeliverer } from '../../src/webhooks/deliver.js';
import { makeJobRecord, RecordingJobQueue } from '../helpers/jobs.js';

const T0 = Date.UTC(2026, 0, 1);
const config = loadConfig({}, {});

function planner(random: number, nowMs: number) {
  const deliverer = createWebhookDeliverer({
    config,
    webhooks: {} as never,
    blobs: {} as never,
    log: silentLogger(),
    random: () => random,
    now: () => new Date(nowMs),
  });
  const record = { ...makeJobRecord({ id: 'd' }), kind: 'webhook' as const, createdAt: new Date(T0).toISOString() };
  return (attempt: number, error = { code: 'webhook-status', message: 'the receiver answered 503', retryable: true, status: 503 }) => deliverer.plan(record, error, attempt);
}

describe('webhook retry plan', () => {
  it('defaults: 5 s base, 6 h largest wait, 24 h window, 30 attempts, 10 s per attempt', () => {
    expect(config.webhooks).toMatchObject({ allow: [], retryBaseSeconds: 5, maxBackoffSeconds: 21_600, retryWindowSeconds: 86_400, maxAttempts: 30, timeoutMs: 10_000 });
    const set = loadConfig({}, { FACEFLEET_WEBHOOK_ALLOW: ' a.example , .b.example,127.0.0.1 ', FACEFLEET_WEBHOOK_TIMEOUT: '0.6s', FACEFLEET_WEBHOOK_RETRY_WINDOW: '2h' });
    expect(set.webhooks).toMatchObject({ allow: ['a.example', '.b.example', '127.0.0.1'], timeoutMs: 600, retryWindowSeconds: 7_200 });
    // A local fleet's workers get the same settings through their environment.
    expect(loadConfig({}, configToEnv(set)).webhooks).toEqual(set.webhooks);
  });

  it('waits up to base * 2^(n-1) seconds, at least 1, at most 6 h', () => {
    const top = planner(0.999999, T0);
    const waits = [1, 2, 3, 4, 12, 13, 20].map((n) => (Date.parse(top(n).retryAt!) - T0) / 1000);
    expect(waits).toEqual([5, 10, 20, 40, 10_240, 20_480, 21_600]);
    expect((Date.parse(planner(0, T0)(1).retryAt!) - T0) / 1000).toBe(1);
  });

  it('keeps the error (and its status) as it is while retrying; a permanent one gets no retry', () => {
    expect(planner(0.5, T0)(1).error).toMatchObject({ status: 503, retryable: true });
    const gone = planner(0.5, T0)(1, { code: 'webhook-status', message: 'the receiver answered 410', retryable: false, status: 410 });
    expect(gone).toEqual({ error: { code: 'webhook-status', message: 'the receiver answered 410', retryable: false, status: 410 } });
  });

  it('stops at the retry window: the last failure becomes permanent, with its status', () => {
    // 23 h 59 min after the event, a wait of up to 6 h would end past 24 h.
    const late = planner(0.5, T0 + (24 * 3600 - 60) * 1000)(14);
    expect(late.retryAt).toBeUndefined();
    expect(late.error).toMatchObject({ retryable: false, status: 503 });
    expect(late.error.message).toMatch(/retry window \(86400 s\) is over/);
  });
});

describe('scheduleRetry with a retry time', () => {
  it('sends a new message delayed until then (at most 900 s) and deletes the delivery in hand', async () => {
    const queue = new RecordingJobQueue();
    const effects = createJobEffects({ queue, log: silentLogger(), retryBaseSeconds: 1, now: () => new Date(T0) });
    await effects.scheduleRetry({ jobId: 'd', receipt: 'r1', attempt: 3, retryAt: new Date(T0 + 40_500).toISOString() });
    await effects.scheduleRetry({ jobId: 'd', receipt: 'r2', attempt: 9, retryAt: new Date(T0 + 7_200_000).toISOString() });
    expect(queue.sent).toEqual([
      { body: { jobId: 'd' }, delaySeconds: 41 },
      { body: { jobId: 'd' }, delaySeconds: MAX_MESSAGE_DELAY_SECONDS },
    ]);
    expect(queue.deleted).toEqual(['r1', 'r2']);
    expect(queue.extended).toEqual([]);
  });
});
