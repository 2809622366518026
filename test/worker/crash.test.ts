/**
 * A worker whose engine crashed, or that cannot use its stores, fails the attempt in hand,
 * stops taking jobs and ends `run()` with the reason (the process then exits; see crash.ts).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { jobView } from '../../src/jobs/view.js';
import { silentLogger } from '../../src/log.js';
import { EngineCrashedError } from '../../src/recognition/errors.js';
import type { AnalyzedImage, Engine } from '../../src/recognition/types.js';
import { withFaults } from '../../src/store/faults.js';
import { createWorker } from '../../src/worker/worker.js';
import { eventually } from '../helpers/stack.js';
import { workerScope } from '../helpers/worker-scope.js';

describe('worker: corrupt runtime and unusable stores', () => {
  const scope = workerScope({ retryBaseSeconds: 0 });

  async function submit(id: string, bytes: string): Promise<void> {
    const key = `inputs/${id}`;
    await scope.stores.blobs.put(key, Buffer.from(bytes));
    await scope.runner.create({ id, kind: 'recognize', input: { key, contentType: 'image/jpeg', bytes: 5 }, options: { topK: 3, threshold: 0.6 }, maxAttempts: 3 });
    await scope.runner.dispatch(id, { type: 'ENQUEUE' });
  }

  it('an engine crash fails that attempt as engine-crashed and the worker takes no other job', async () => {
    const seen: string[] = [];
    const engine: Engine = {
      backend: 'test',
      detector: 'test',
      async analyze(image: Buffer): Promise<AnalyzedImage> {
        seen.push(image.toString());
        if (image.toString() === 'poison') throw new EngineCrashedError('the recognition engine failed: Aborted()');
        return { width: 64, height: 64, faces: [] };
      },
      async close() {},
    };
    await submit('poison', 'poison');
    const config = loadConfig({ dataDir: scope.dir, queueWait: 1, workerId: 'w-crash' }, {});
    scope.worker = createWorker({ config, log: silentLogger(), engine, runner: scope.runner, ...scope.stores });
    const ran = scope.worker.run();
    await eventually(async () => (await scope.stores.jobs.get('poison'))?.state === 'queued' && seen.length === 1, 10_000, 'the poison job back in the queue');
    await submit('ordinary', 'ordinary');
    await ran;
    expect(scope.worker.fatal()?.code).toBe('engine-crashed');
    const poison = jobView((await scope.stores.jobs.get('poison'))!);
    expect(poison.attempts).toBe(1);
    expect(poison.history.at(-1)).toMatchObject({ event: 'FAIL', error: { code: 'engine-crashed' } });
    // Nothing else ran on the corrupt runtime.
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toEqual(['poison']);
    expect((await scope.stores.jobs.get('ordinary'))?.state).toBe('queued');
  });

  it('a queue that keeps failing: the worker gives up after the bound instead of looping', async () => {
    const engine: Engine = { backend: 'test', detector: 'test', analyze: async () => ({ width: 1, height: 1, faces: [] }), async close() {} };
    const queue = withFaults(scope.stores.queue, { receive: {} });
    const config = loadConfig({ dataDir: scope.dir, queueWait: 1, workerId: 'w-stores' }, {});
    scope.worker = createWorker({ config, log: silentLogger(), engine, runner: scope.runner, ...scope.stores, queue, maxStoreFailures: 3 });
    const started = Date.now();
    await scope.worker.run();
    expect(scope.worker.fatal()?.code).toBe('stores-unusable');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a job store that refuses writes: START fails each time and the worker gives up', async () => {
    const engine: Engine = { backend: 'test', detector: 'test', analyze: async () => ({ width: 1, height: 1, faces: [] }), async close() {} };
    await submit('stuck', 'x');
    const { createJobRunner } = await import('../../src/jobs/runner.js');
    const { createJobEffects } = await import('../../src/jobs/effects.js');
    const jobs = withFaults(scope.stores.jobs, { save: {} });
    const runner = createJobRunner({ store: jobs, effects: createJobEffects({ queue: scope.stores.queue, log: silentLogger(), retryBaseSeconds: 0 }), log: silentLogger() });
    // Visibility 1 s: the message comes back quickly after each failed START.
    const config = loadConfig({ dataDir: scope.dir, queueWait: 1, visibility: 1, workerId: 'w-ro' }, {});
    scope.worker = createWorker({ config, log: silentLogger(), engine, runner, ...scope.stores, maxStoreFailures: 2 });
    await scope.worker.run();
    expect(scope.worker.fatal()?.code).toBe('stores-unusable');
    expect((await scope.stores.jobs.get('stuck'))?.state).toBe('queued');
  });
});
