/**
 * A retiring worker (the scaler's `retire` action, delivered by the local fleet over IPC)
 * finishes the job in hand, keeps taking jobs while the queue has some, and ends `run()` at
 * the first receive that finds the queue empty, without waiting out a long poll.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { AnalyzedImage, Engine } from '../../src/recognition/types.js';
import { createWorker } from '../../src/worker/worker.js';
import { eventually } from '../helpers/stack.js';
import { workerScope } from '../helpers/worker-scope.js';

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
  const scope = workerScope({ retryBaseSeconds: 2 });

  // A long poll of 30 s: a retiring worker must not wait it out.
  const config = () => loadConfig({ dataDir: scope.dir, queueWait: 30, workerId: 'w-retire' }, {});

  async function submit(id: string): Promise<void> {
    const key = `jobs/${id}/input`;
    await scope.stores.blobs.put(key, Buffer.from('not looked at by the gated engine'));
    await scope.runner.create({ id, kind: 'recognize', input: { key, contentType: 'image/jpeg', bytes: 33 }, options: { topK: 3, threshold: 0.6 }, maxAttempts: 3 });
    await scope.runner.dispatch(id, { type: 'ENQUEUE' });
  }

  it('finishes the job in hand and what waits, then ends run() at the first empty receive', async () => {
    const gate = gatedEngine();
    scope.worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner: scope.runner, ...scope.stores });
    await submit('a');
    await submit('b');
    let ended = false;
    const run = scope.worker.run().then(() => {
      ended = true;
    });
    await eventually(async () => gate.started() === 1, 10_000, 'first job started');
    scope.worker.retire();
    expect(scope.worker.retiring()).toBe(true);
    // Still busy: it does not end with a job in hand, nor with one waiting.
    await new Promise((r) => setTimeout(r, 100));
    expect(ended).toBe(false);
    gate.release();
    await eventually(async () => gate.started() === 1 && gate.analyzed() === 1, 10_000, 'second job started');
    expect(ended).toBe(false);
    gate.release();
    await run;
    expect(gate.analyzed()).toBe(2);
    for (const id of ['a', 'b']) expect((await scope.stores.jobs.get(id))?.state).toBe('done');
    expect(await scope.stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    // It left the registry on its way out.
    expect(await scope.stores.registry.list()).toEqual([]);
  });

  it('an idle worker in a long poll retires at once', async () => {
    const gate = gatedEngine();
    scope.worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner: scope.runner, ...scope.stores });
    const run = scope.worker.run();
    await eventually(async () => (await scope.stores.registry.list()).length === 1, 10_000, 'worker registered');
    const asked = Date.now();
    scope.worker.retire();
    await run;
    // Well inside the 30 s long poll it was in.
    expect(Date.now() - asked).toBeLessThan(10_000);
    expect(gate.analyzed()).toBe(0);
  });

  it('hears a retire request through the registry at its heartbeat after the job', async () => {
    const gate = gatedEngine();
    scope.worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner: scope.runner, ...scope.stores });
    await submit('d');
    const run = scope.worker.run();
    await eventually(async () => gate.started() === 1, 10_000, 'job started');
    // What the controller does for a fleet that cannot reach the worker itself.
    await scope.stores.registry.retire('w-retire', new Date().toISOString());
    expect(scope.worker.retiring()).toBe(false);
    gate.release();
    await run;
    expect(scope.worker.retiring()).toBe(true);
    expect((await scope.stores.jobs.get('d'))?.state).toBe('done');
    expect(await scope.stores.registry.list()).toEqual([]);
  });

  it('stop() still works on a retiring worker, and retire() after stop() is ignored', async () => {
    const gate = gatedEngine();
    scope.worker = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner: scope.runner, ...scope.stores });
    await submit('c');
    const run = scope.worker.run();
    await eventually(async () => gate.started() === 1, 10_000, 'job started');
    scope.worker.retire();
    const stopping = scope.worker.stop(5_000);
    gate.release();
    expect(await stopping).toBe(true);
    await run;
    expect((await scope.stores.jobs.get('c'))?.state).toBe('done');
    const other = createWorker({ config: config(), log: silentLogger(), engine: gate.engine, runner: scope.runner, ...scope.stores });
    await other.stop(100);
    other.retire();
    expect(other.retiring()).toBe(false);
  });
});
