/**
 * Retire with a real worker process: the local fleet spawns `facefleet worker`, the scaler's
 * retire reaches it over IPC, and it exits with the retired code once the queue is empty,
 * after finishing what was queued. Not a crash, nothing left running.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configToEnv, loadConfig } from '../../src/config.js';
import { createLocalFleet, type LocalFleet } from '../../src/controller/local-fleet.js';
import { createJobEffects } from '../../src/jobs/effects.js';
import { createJobRunner } from '../../src/jobs/runner.js';
import { silentLogger } from '../../src/log.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { CLI, eventually } from '../helpers/stack.js';

describe('retiring a real worker process', () => {
  let dir: string;
  let fleet: LocalFleet;
  let stores: LocalStores;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    const config = loadConfig({ dataDir: dir, queueWait: 20 }, {});
    fleet = createLocalFleet({
      command: [process.execPath, '--import', 'tsx', CLI, 'worker'],
      env: { ...process.env, ...configToEnv(config), FACEFLEET_LOG_LEVEL: 'warn' },
      log: silentLogger(),
      stopTimeoutMs: 10_000,
    });
    stores = openLocalStores({ dataDir: dir, log: silentLogger() });
  });

  afterAll(async () => {
    await fleet.close();
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('finishes the queued jobs, then exits with the retired code: not a crash', async () => {
    const [instance] = await fleet.launch(1);
    await eventually(async () => (await fleet.list())[0]?.state === 'running', 60_000, 'worker ready');
    // Jobs whose image cannot be decoded still run through the worker (to dead-lettered).
    const runner = createJobRunner({ store: stores.jobs, effects: createJobEffects({ queue: stores.queue, log: silentLogger(), retryBaseSeconds: 1 }), log: silentLogger() });
    for (const id of ['r1', 'r2']) {
      await stores.blobs.put(`jobs/${id}/input`, Buffer.from('not an image'));
      await runner.create({ id, kind: 'recognize', input: { key: `jobs/${id}/input`, contentType: 'image/jpeg', bytes: 12 }, options: { topK: 3, threshold: 0.6 }, maxAttempts: 3 });
      await runner.dispatch(id, { type: 'ENQUEUE' });
    }
    // Retired with work waiting (or in hand): it takes what waits before it goes.
    await fleet.retire([instance.id]);
    await eventually(async () => (await fleet.list()).length === 0, 60_000, 'worker retired');
    expect(fleet.crashes()).toBe(0);
    // The worker had the job in its queue when it retired: it was handled, not abandoned.
    for (const id of ['r1', 'r2']) expect((await stores.jobs.get(id))?.state).toBe('dead-lettered');
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await stores.registry.list()).toEqual([]);
  });
});
