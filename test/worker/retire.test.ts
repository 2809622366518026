/**
 * A retiring worker (the scaler's `retire` action, delivered by the local fleet over IPC)
 * finishes the job in hand, keeps taking jobs while the queue has some, and ends `run()` at
 * the first receive that finds the queue empty, without waiting out a long poll.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createJobEffects } from '../../src/jobs/effects.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/runner.js';
import { silentLogger } from '../../src/log.js';
import type { AnalyzedImage, Engine } from '../../src/recognition/types.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { eventually } from '../helpers/stack.js';

/** An engine whose every analysis waits until the test releases it. */
function gatedEngine() {
  const waiting: (() => void)[] = [];
  let analyzed = 0;
  const engine: Engine = {
    backend: 'test',
    detector: 'test',
    async analyze(): Promise<AnalyzedImage> {
      await new Promise<void>((resolve) => waiting.push(resolve));
      analyzed++;
      return { width: 64, height: 64, faces: [] };
    },
    async close() {},
  };
  return {
    engine,
    analyzed: () => analyzed,
    started: () => waiting.length,
    release: () => waiting.shift()?.(),
  };
}

describe('worker retire', () => {
  let dir: string;
  let stores: LocalStores;
  let runner: JobRunner;
  let worker: Worker | undefined;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    stores = openLocalStores({ dataDir: dir, log: silentLogger() });
    runner = createJobRunner({ store: stores.jobs, effects: createJobEffects({ queue: stores.queue, log: silentLogger(), retryBaseSeconds: 2 }), log: silentLogger() });
  });

  afterEach(async () => {
    await worker?.stop(1000);
    worker = undefined;
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  // A long poll of 30 s: a retiring worker must not wait it out.
  const config = () => loadConfig({ dataDir: dir, queueWait: 30, workerId: 'w-retire' }, {});

  async function submit(id: string): Promise<void> {
    const key = `jobs/${id}/input`;
    await stores.blobs.put(key, Buffer.from('not looked at by the gated engine'));
    await runner.create({ id, kind: 'recognize', input: { key, contentType: 'image/jpeg', bytes: 33 }, options: { topK: 3, threshold: 0.6 }, maxAttempts: 3 });
    await runner.dispatch(id, { type: 'ENQUEUE' });
  }

  it('finishes the job in hand and what waits, then ends run() at the first empty receive', async () => {
    const gate = gatedEngine();
    worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner, ...stores });
    await submit('a');
    await submit('b');
    let ended = false;
    const run = worker.run().then(() => {
      ended = true;
    });
    await eventually(async () => gate.started() === 1, 10_000, 'first job started');
    worker.retire();
    expect(worker.retiring()).toBe(true);
    // Still busy: it does not end with a job in hand, nor with one waiting.
    await new Promise((r) => setTimeout(r, 100));
    expect(ended).toBe(false);
    gate.release();
    await eventually(async () => gate.started() === 1 && gate.analyzed() === 1, 10_000, 'second job started');
    expect(ended).toBe(false);
    gate.release();
    await run;
    expect(gate.analyzed()).toBe(2);
    for (const id of ['a', 'b']) expect((await stores.jobs.get(id))?.state).toBe('done');
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    // It left the registry on its way out.
    expect(await stores.registry.list()).toEqual([]);
  });

  it('an idle worker in a long poll retires at once', async () => {
    const gate = gatedEngine();
    worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner, ...stores });
    const run = worker.run();
    await eventually(async () => (await stores.registry.list()).length === 1, 10_000, 'worker registered');
    const asked = Date.now();
    worker.retire();
    await run;
    // Well inside the 30 s long poll it was in.
    expect(Date.now() - asked).toBeLessThan(10_000);
    expect(gate.analyzed()).toBe(0);
  });

  it('hears a retire request through the registry at its heartbeat after the job', async () => {
    const gate = gatedEngine();
    worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner, ...stores });
    await submit('d');
    const run = worker.run();
    await eventually(async () => gate.started() === 1, 10_000, 'job started');
    // What the controller does for a fleet that cannot reach the worker itself.
    await stores.registry.retire('w-retire', new Date().toISOString());
    expect(worker.retiring()).toBe(false);
    gate.release();
    await run;
    expect(worker.retiring()).toBe(true);
    expect((await stores.jobs.get('d'))?.state).toBe('done');
    expect(await stores.registry.list()).toEqual([]);
  });

  it('stop() still works on a retiring worker, and retire() after stop() is ignored', async () => {
    const gate = gatedEngine();
    worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner, ...stores });
    await submit('c');
    const run = worker.run();
    await eventually(async () => gate.started() === 1, 10_000, 'job started');
    worker.retire();
    const stopping = worker.stop(5_000);
    gate.release();
    expect(await stopping).toBe(true);
    await run;
    expect((await stores.jobs.get('c'))?.state).toBe('done');
    const other = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner, ...stores });
    await other.stop(100);
    other.retire();
    expect(other.retiring()).toBe(false);
  });
});
