/**
 * Faults the system must survive, on the store side (issue 6): a blob store that fails for a
 * while or for good (retry, dead-letter, replay from the operator CLI), and a job store that
 * does not answer at the web tier (503 with Retry-After, not ready, nothing half-written,
 * and back on its own once the store is). Real processes, real model, short timeouts.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_STATES } from '../../src/jobs/types.js';
import type { FaultPlan } from '../../src/store/faults.js';
import { inputKey } from '../../src/web/submit.js';
import { loadCse546 } from '../helpers/cse546.js';
import { eventsOf, faultPlan, faultScope, linesAbout, runCli, submit } from '../helpers/faults.js';
import { eventually } from '../helpers/stack.js';

let images: Buffer[];

beforeAll(async () => {
  images = (await loadCse546()).slice(0, 3).map((i) => i.buffer);
});

/** Every file under the blob store, temp files included (`~tmp/...`). */
async function blobFiles(dataDir: string): Promise<string[]> {
  const root = path.join(dataDir, 'blobs');
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

describe('faults: stores', () => {
  it('blob store failing: a job retries and recovers; past the attempt budget, or with its blob gone, it is dead-lettered, listed, and replayed to done', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    // The worker's first five blob reads fail (retryable store-unavailable); then the blob
    // store is healthy again. Max receives = attempt budget = 3.
    const failing = { FACEFLEET_FAULTS: faultPlan({ blobs: { get: { times: 5 } } }) };
    const [web, worker] = await Promise.all([scope.web(dir), scope.worker(dir, 'worker-1', failing)]);
    const stores = await scope.stores(dir);

    // Failures 1-3: more than the budget. Dead-lettered after exactly 3 attempts, with the reason.
    const first = await submit(web.url, images[0]!);
    expect(first.status).toBe(202);
    const exhausted = await scope.waitForJob(dir, first.json.id!, (j) => j.state === 'dead-lettered');
    expect(exhausted.attempts).toBe(3);
    expect(eventsOf(exhausted, 'START')).toHaveLength(3);
    expect(eventsOf(exhausted, 'FAIL').map((h) => h.error?.code)).toEqual(['store-unavailable', 'store-unavailable', 'store-unavailable']);
    expect(exhausted.deadLetterReason).toMatch(/^out of attempts after 3: store-unavailable: /);

    // Failures 4-5: within the budget. Retried, and done on the third attempt.
    const second = await submit(web.url, images[1]!);
    expect(second.status).toBe(202);
    const recovered = await scope.waitForJob(dir, second.json.id!, (j) => j.state === 'done');
    expect(recovered.attempts).toBe(3);
    expect(eventsOf(recovered, 'FAIL')).toHaveLength(2);
    expect(eventsOf(recovered, 'SUCCEED')).toHaveLength(1);
    expect(recovered.result?.faces).toHaveLength(1);
    // Log lines are written in chunks, at most 250 ms late.
    await eventually(async () => linesAbout([worker], 'injected store fault').length >= 5, 5_000, 'the fault log lines');
    expect(linesAbout([worker], 'injected store fault')).toHaveLength(5);

    // A permanent failure: the job's input blob is deleted after the job was accepted (as the
    // web tier accepts one: blob, job, message), before a worker reads it. Dead-lettered on
    // its first attempt: retrying cannot bring the blob back.
    const lostId = randomUUID();
    const lostKey = inputKey(lostId);
    await stores.blobs.put(lostKey, images[2]!, { contentType: 'image/jpeg' });
    const lost = await stores.runner.create({
      id: lostId,
      kind: 'recognize',
      input: { key: lostKey, contentType: 'image/jpeg', bytes: images[2]!.length },
      options: { topK: 3, threshold: 0.6 },
      maxAttempts: 3,
    });
    await stores.blobs.delete(lostKey);
    await stores.runner.dispatch(lost.id, { type: 'ENQUEUE' });
    const missing = await scope.waitForJob(dir, lost.id, (j) => j.state === 'dead-lettered');
    expect(missing.attempts).toBe(1);
    expect(missing.deadLetterReason).toMatch(/^permanent error on attempt 1: blob-missing: .*missing from the blob store/);

    // The operator sees both, with their reasons.
    const list = await runCli(['dlq', 'list', '--data-dir', dir]);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.startsWith(first.json.id!))).toMatch(/attempts 3\tout of attempts after 3: store-unavailable/);
    expect(lines.find((l) => l.startsWith(lost.id))).toMatch(/attempts 1\tpermanent error on attempt 1: blob-missing/);
    expect(list.stderr).toContain('2 dead-lettered jobs');

    // The fault is gone (the worker's five failures are spent) and the blob is restored: replay.
    await stores.blobs.put(lostKey, images[2]!, { contentType: 'image/jpeg' });
    const replay = await runCli(['dlq', 'replay', first.json.id!, lost.id, '--data-dir', dir]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('replayed 2 of 2 matched jobs');

    const replayed = await scope.waitForJob(dir, first.json.id!, (j) => j.state === 'done');
    // History kept: the three failed attempts, the replay, then the fourth attempt.
    expect(replayed.history.map((h) => h.event)).toEqual(['CREATE', 'ENQUEUE', 'START', 'FAIL', 'START', 'FAIL', 'START', 'FAIL', 'REPLAY', 'START', 'SUCCEED']);
    expect(replayed.attempts).toBe(4);
    expect(replayed.result?.faces).toHaveLength(1);
    const restored = await scope.waitForJob(dir, lost.id, (j) => j.state === 'done');
    expect(restored.history.map((h) => h.event)).toEqual(['CREATE', 'ENQUEUE', 'START', 'FAIL', 'REPLAY', 'START', 'SUCCEED']);
    expect((await stores.jobs.countByState())['dead-lettered']).toBe(0);
  }, 240_000);

  it('job store unavailable: 503 with Retry-After, /readyz fails, no job and no orphan blob; ready again once the store is back', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    // Every job-store call of the web tier fails until `until`, which leaves time to start.
    const until = Date.now() + 30_000;
    const methods = ['create', 'get', 'save', 'listByState', 'countByState', 'delete', 'ping'];
    const jobsPlan: FaultPlan = Object.fromEntries(methods.map((m) => [m, { until }]));
    const web = await scope.web(dir, { FACEFLEET_FAULTS: faultPlan({ jobs: jobsPlan }) });
    expect(Date.now(), 'the web tier took too long to start for this test').toBeLessThan(until - 10_000);

    // Enough submissions to open the web tier's circuit breaker (5 failures) and then some.
    for (let i = 0; i < 7; i++) {
      const res = await submit(web.url, images[0]!);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json).toMatchObject({ status: 503 });
      expect(res.json.jobId).toBeUndefined();
    }
    // Clients polling their jobs fail too, and enough failures in a row open the breaker.
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${web.url}/v1/jobs/${randomUUID()}`);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    const notReady = await fetch(`${web.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(Number(notReady.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await notReady.json()).toMatchObject({ breaker: 'open', failing: ['jobs'] });

    // Nothing half-written: no job in any state, no blob (not even a temp file), no message.
    const stores = await scope.stores(dir);
    const counts = await stores.jobs.countByState();
    expect(JOB_STATES.map((s) => counts[s])).toEqual(JOB_STATES.map(() => 0));
    expect(await blobFiles(dir)).toEqual([]);
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    // The store comes back: the tier turns ready by itself (no client traffic needed; a load
    // balancer sends none to an unready target), then accepts jobs again.
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
    await eventually(async () => (await fetch(`${web.url}/readyz`)).status === 200, 30_000, '/readyz to answer 200');
    const accepted = await submit(web.url, images[0]!);
    expect(accepted.status).toBe(202);
    const job = await scope.job(dir, accepted.json.id!);
    expect(job?.state).toBe('queued');
    expect(await blobFiles(dir)).toEqual([inputKey(accepted.json.id!)]);
  }, 120_000);
});
