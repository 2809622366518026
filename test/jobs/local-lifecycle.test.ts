/**
 * The runner, effects and operations together on the real embedded stores (SQLite job store
 * and queue), with the queue's and the runner's clocks driven by the test.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createJobEffects } from '../../src/jobs/effects.js';
import { listDeadLetters, reconcileDeadLetters, replayJobs, sweepStuckJobs } from '../../src/jobs/operations.js';
import { createJobRunner, type JobRunner, type NewJob } from '../../src/jobs/runner.js';
import { jobContext, jobView } from '../../src/jobs/view.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import type { ReceivedMessage } from '../../src/store/ports.js';
import { aResult, permanent, retryable } from '../helpers/jobs.js';

const job = (id: string): NewJob => ({
  id,
  kind: 'recognize',
  input: { key: `jobs/${id}/input`, contentType: 'image/jpeg', bytes: 10 },
  options: { topK: 3, threshold: 0.6 },
  maxAttempts: 2,
});

describe('job lifecycle on the local stores', () => {
  let dir: string;
  let stores: LocalStores;
  let runner: JobRunner;
  let clockMs: number;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    clockMs = Date.UTC(2026, 0, 1);
    stores = openLocalStores({ dataDir: dir, log: silentLogger(), maxReceiveCount: 2, now: () => clockMs });
    runner = createJobRunner({
      store: stores.jobs,
      effects: createJobEffects({ queue: stores.queue, log: silentLogger(), retryBaseSeconds: 2, random: () => 0.999 }),
      log: silentLogger(),
      now: () => new Date(clockMs),
    });
  });

  afterEach(async () => {
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const advance = (seconds: number) => {
    clockMs += seconds * 1000;
  };
  const receiveOne = async (): Promise<ReceivedMessage | undefined> =>
    (await stores.queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 30 }))[0];

  it('runs a job to done, acknowledging its message', async () => {
    await runner.create(job('a'));
    await runner.dispatch('a', { type: 'ENQUEUE' });
    const message = (await receiveOne())!;
    expect(message.body).toEqual({ jobId: 'a' });
    await runner.dispatch('a', { type: 'START', workerId: 'w1', leaseSeconds: 30, receipt: message.receipt });
    const { record } = await runner.dispatch('a', { type: 'SUCCEED', workerId: 'w1', result: aResult(), receipt: message.receipt });
    expect(jobView(record!)).toMatchObject({ state: 'done', attempts: 1, result: aResult() });
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('retries a retryable failure on the same message after the backoff', async () => {
    await runner.create(job('a'));
    await runner.dispatch('a', { type: 'ENQUEUE' });
    const first = (await receiveOne())!;
    await runner.dispatch('a', { type: 'START', workerId: 'w1', leaseSeconds: 30, receipt: first.receipt });
    await runner.dispatch('a', { type: 'FAIL', workerId: 'w1', error: retryable(), receipt: first.receipt });
    // Attempt 1, base 2 s, random ~1: the message is held back 2 s.
    advance(1);
    expect(await receiveOne()).toBeUndefined();
    advance(1);
    const second = (await receiveOne())!;
    expect(second.messageId).toBe(first.messageId);
    const started = await runner.dispatch('a', { type: 'START', workerId: 'w2', leaseSeconds: 30, receipt: second.receipt });
    expect(jobContext(started.record!).attempts).toBe(2);
  });

  it('abandons a job whose workers keep dying, lists it, and replays it to done with its history', async () => {
    await runner.create(job('a'));
    await runner.dispatch('a', { type: 'ENQUEUE' });
    for (const workerId of ['w1', 'w2']) {
      const message = (await receiveOne())!;
      const started = await runner.dispatch('a', { type: 'START', workerId, leaseSeconds: 30, receipt: message.receipt });
      expect(started.changed).toBe(true);
      advance(31); // the worker dies; its lease and the message's visibility run out
    }
    // Past maxReceiveCount the queue moves the message to its dead-letter queue.
    expect(await receiveOne()).toBeUndefined();
    expect(await stores.queue.deadLetterDepth()).toBe(1);

    expect(await reconcileDeadLetters({ queue: stores.queue, runner })).toBe(1);
    const listed = await listDeadLetters(stores.jobs, { reason: 'GAVE UP' });
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0]).toMatchObject({ id: 'a', attempts: 2 });
    expect(listed.items[0].reason).toMatch(/^gave up after \d+ deliveries/);

    const report = await replayJobs({ jobs: stores.jobs, runner }, { all: true }, { ratePerSecond: 0 });
    expect(report).toMatchObject({ matched: 1, replayed: 1 });
    expect(await stores.queue.deadLetterDepth()).toBe(0);
    // Reconciling again finds nothing: the replay removed the dead letter.
    expect(await reconcileDeadLetters({ queue: stores.queue, runner })).toBe(0);

    const message = (await receiveOne())!;
    await runner.dispatch('a', { type: 'START', workerId: 'w3', leaseSeconds: 30, receipt: message.receipt });
    const { record } = await runner.dispatch('a', { type: 'SUCCEED', workerId: 'w3', result: aResult(), receipt: message.receipt });
    const view = jobView(record!);
    expect(view).toMatchObject({ state: 'done', attempts: 3, maxAttempts: 4 });
    expect(view.history.map((h) => `${h.event}:${h.to}`)).toEqual([
      'CREATE:uploaded',
      'ENQUEUE:queued',
      'START:processing',
      'START:processing',
      'ABANDON:dead-lettered',
      'REPLAY:queued',
      'START:processing',
      'SUCCEED:done',
    ]);
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('dead-letters a permanent failure and acknowledges its message', async () => {
    await runner.create(job('a'));
    await runner.dispatch('a', { type: 'ENQUEUE' });
    const message = (await receiveOne())!;
    await runner.dispatch('a', { type: 'START', workerId: 'w1', leaseSeconds: 30, receipt: message.receipt });
    await runner.dispatch('a', { type: 'FAIL', workerId: 'w1', error: permanent(), receipt: message.receipt });
    expect((await stores.jobs.get('a'))?.state).toBe('dead-lettered');
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await stores.queue.deadLetterDepth()).toBe(0);
  });

  it('sweeps a job whose message was never sent into the queue', async () => {
    await runner.create(job('lost')); // the web tier died before ENQUEUE
    advance(120);
    expect(await sweepStuckJobs({ jobs: stores.jobs, runner }, { staleSeconds: 60, now: new Date(clockMs) })).toBe(1);
    expect((await receiveOne())?.body).toEqual({ jobId: 'lost' });
    expect((await stores.jobs.get('lost'))?.state).toBe('queued');
  });
});
