/**
 * The worker's recluster requests: one job per minute bucket, and a request in a minute whose job
 * already exists schedules the next minute's, its message held back until that minute begins.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobEffects } from '../../src/jobs/effects.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/runner.js';
import { silentLogger } from '../../src/log.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { reclusterJobId, requestRecluster } from '../../src/unknowns/recluster-job.js';

let dir: string;
let stores: LocalStores;
/** The stores' clock (the queue's visibility and delays). */
let clock = 0;
let runner: JobRunner;
const log = silentLogger();

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-recluster-request-'));
  stores = openLocalStores({ dataDir: dir, log, now: () => clock });
  runner = createJobRunner({ store: stores.jobs, effects: createJobEffects({ queue: stores.queue, log, retryBaseSeconds: 1 }), log });
});
afterAll(async () => {
  await stores.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('recluster requests', () => {
  it("this minute's job, then the next minute's held back until it begins, then nothing more", async () => {
    // 20 s before the end of a minute.
    const minute = 29_000_000;
    const now = new Date(minute * 60_000 + 40_000);
    clock = now.getTime();
    const ask = () => requestRecluster({ blobs: stores.blobs, runner }, { collection: 'c', now, seconds: 60, maxAttempts: 3 });
    const first = await ask();
    expect(first).toEqual({ jobId: reclusterJobId('c', String(minute)), created: true });
    const second = await ask();
    expect(second).toEqual({ jobId: reclusterJobId('c', String(minute + 1)), created: true });
    expect(await ask()).toEqual({ jobId: reclusterJobId('c', String(minute + 1)), created: false });
    expect((await stores.jobs.get(second.jobId))?.state).toBe('queued');
    const receive = async () => (await stores.queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 600 })).map((m) => m.body.jobId);
    // Only the first job's message is visible now; the second's waits until its minute begins.
    expect(await receive()).toEqual([first.jobId]);
    clock = (minute + 1) * 60_000 - 1_000;
    expect(await receive()).toEqual([]);
    clock = (minute + 1) * 60_000 + 1_000;
    expect(await receive()).toEqual([second.jobId]);
    await expect(requestRecluster({ blobs: stores.blobs, runner }, { collection: 'c', now, seconds: 3600, maxAttempts: 3 })).rejects.toThrow(RangeError);
  });
});
