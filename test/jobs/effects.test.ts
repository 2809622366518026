import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { MAX_RETRY_BACKOFF_SECONDS, createJobEffects, retryBackoffSeconds } from '../../src/jobs/effects.js';
import { NotFoundError, StoreUnavailableError } from '../../src/store/errors.js';
import { RecordingJobQueue } from '../helpers/jobs.js';

describe('retryBackoffSeconds', () => {
  it('draws from [0, base * 2^(attempt-1)]: the lowest random gives 0, the highest gives the ceiling', () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect(retryBackoffSeconds(1, 5, low)).toBe(0);
    expect(retryBackoffSeconds(1, 5, high)).toBe(5);
    expect(retryBackoffSeconds(2, 5, high)).toBe(10);
    expect(retryBackoffSeconds(3, 5, high)).toBe(20);
    expect(retryBackoffSeconds(4, 5, high)).toBe(40);
  });

  it(`is capped at ${MAX_RETRY_BACKOFF_SECONDS} s however many attempts failed`, () => {
    expect(retryBackoffSeconds(7, 5, () => 0.999999)).toBe(MAX_RETRY_BACKOFF_SECONDS); // 5 * 64 = 320 > 300
    expect(retryBackoffSeconds(60, 5, () => 0.999999)).toBe(MAX_RETRY_BACKOFF_SECONDS);
    expect(retryBackoffSeconds(1000, 5, () => 0.999999)).toBe(MAX_RETRY_BACKOFF_SECONDS);
  });

  it('spreads evenly (full jitter) and stays a whole number of seconds within bounds', () => {
    let seed = 42;
    // A small LCG so the draw is reproducible.
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const draws = Array.from({ length: 2000 }, () => retryBackoffSeconds(3, 5, random));
    for (const d of draws) {
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(20);
    }
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(mean).toBeGreaterThan(8);
    expect(mean).toBeLessThan(12);
    expect(new Set(draws).size).toBe(21);
  });

  it('treats a random of exactly 1 (out of contract) as the ceiling, not above it', () => {
    expect(retryBackoffSeconds(2, 5, () => 1)).toBe(10);
  });
});

describe('job effects', () => {
  const make = (queue: RecordingJobQueue, random = () => 0.5) =>
    createJobEffects({ queue, log: silentLogger(), retryBaseSeconds: 4, random });

  it('enqueue sends the job message', async () => {
    const queue = new RecordingJobQueue();
    await make(queue).enqueue({ jobId: 'j' });
    expect(queue.sent).toEqual([{ body: { jobId: 'j' } }]);
  });

  it('acknowledge deletes the delivery, and does nothing without a receipt', async () => {
    const queue = new RecordingJobQueue();
    const effects = make(queue);
    await effects.acknowledge({ jobId: 'j' });
    expect(queue.deleted).toEqual([]);
    await effects.acknowledge({ jobId: 'j', receipt: 'r1' });
    await effects.acknowledge({ jobId: 'j', receipt: 'r1' });
    expect(queue.deleted).toEqual(['r1', 'r1']);
  });

  it('acknowledge with a delivery the queue no longer knows succeeds; other failures pass on', async () => {
    const queue = new RecordingJobQueue();
    queue.failNext.delete = new NotFoundError('gone');
    await expect(make(queue).acknowledge({ jobId: 'j', receipt: 'old' })).resolves.toBeUndefined();
    queue.failNext.delete = new StoreUnavailableError('down');
    await expect(make(queue).acknowledge({ jobId: 'j', receipt: 'r' })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('scheduleRetry holds the same message back for the jittered backoff', async () => {
    const queue = new RecordingJobQueue();
    await make(queue, () => 0.5).scheduleRetry({ jobId: 'j', receipt: 'r1', attempt: 3 });
    // base 4, attempt 3: ceiling 16, draw floor(0.5 * 17) = 8.
    expect(queue.extended).toEqual([{ receipt: 'r1', seconds: 8 }]);
    expect(queue.sent).toEqual([]);
  });

  it('scheduleRetry without a receipt sends a delayed message instead', async () => {
    const queue = new RecordingJobQueue();
    await make(queue, () => 0.999999).scheduleRetry({ jobId: 'j', attempt: 1 });
    expect(queue.sent).toEqual([{ body: { jobId: 'j' }, delaySeconds: 4 }]);
  });

  it('scheduleRetry with a stale receipt succeeds (the message is back already or the sweeper resends)', async () => {
    const queue = new RecordingJobQueue();
    queue.staleReceipts.add('old');
    await expect(make(queue).scheduleRetry({ jobId: 'j', receipt: 'old', attempt: 1 })).resolves.toBeUndefined();
    expect(queue.extended).toEqual([]);
  });

  it('scheduleRetry passes other queue failures on', async () => {
    const queue = new RecordingJobQueue();
    queue.failNext.extend = new StoreUnavailableError('down');
    await expect(make(queue).scheduleRetry({ jobId: 'j', receipt: 'r', attempt: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('removeDeadLetters removes the job’s dead letters, and repeating it is harmless', async () => {
    const queue = new RecordingJobQueue();
    queue.deadLetters = [
      { messageId: 'a', body: { jobId: 'j' }, receiveCount: 4, sentAt: '2026-01-01T00:00:00.000Z' },
      { messageId: 'b', body: { jobId: 'k' }, receiveCount: 4, sentAt: '2026-01-01T00:00:00.000Z' },
    ];
    const effects = make(queue);
    await effects.removeDeadLetters({ jobId: 'j' });
    await effects.removeDeadLetters({ jobId: 'j' });
    expect(queue.deadLetters.map((m) => m.messageId)).toEqual(['b']);
  });

  it('is idempotent against the real local queue: repeated acknowledge and removeDeadLetters succeed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    const { openLocalStores } = await import('../../src/store/local/index.js');
    const stores = openLocalStores({ dataDir: dir, log: silentLogger(), maxReceiveCount: 1 });
    try {
      const effects = createJobEffects({ queue: stores.queue, log: silentLogger(), retryBaseSeconds: 1, random: () => 0 });
      await effects.enqueue({ jobId: 'j' });
      const [message] = await stores.queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 30 });
      expect(message?.body).toEqual({ jobId: 'j' });
      // A retry with backoff 0 makes the message visible again at once.
      await effects.scheduleRetry({ jobId: 'j', receipt: message!.receipt, attempt: 1 });
      // Past maxReceiveCount (1) the next receive moves it to the dead-letter queue instead.
      expect(await stores.queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 30 })).toEqual([]);
      expect(await stores.queue.deadLetterDepth()).toBe(1);
      // The first delivery's receipt is over: a repeated retry and acknowledge are harmless.
      await effects.scheduleRetry({ jobId: 'j', receipt: message!.receipt, attempt: 1 });
      await effects.acknowledge({ jobId: 'j', receipt: message!.receipt });
      await effects.acknowledge({ jobId: 'j', receipt: message!.receipt });
      await effects.removeDeadLetters({ jobId: 'j' });
      await effects.removeDeadLetters({ jobId: 'j' });
      expect(await stores.queue.deadLetterDepth()).toBe(0);
    } finally {
      await stores.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
