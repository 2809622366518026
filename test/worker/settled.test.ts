/**
 * A worker reports each job it finishes (`done` or `dead-lettered`) through `onSettled`, after
 * the state is stored; `facefleet up` relays the report to the web tier's long-polls. A retry
 * is not a finish, and a failing report never fails the job.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { JobState } from '../../src/jobs/types.js';
import { silentLogger } from '../../src/log.js';
import type { AnalyzedImage, Engine } from '../../src/recognition/types.js';
import { createWorker } from '../../src/worker/worker.js';
import { eventually } from '../helpers/stack.js';
import { workerScope } from '../helpers/worker-scope.js';

/** Fails the analysis of any image whose bytes say "flaky" (a retryable error); the rest find no face. */
const engine: Engine = {
  backend: 'test',
  detector: 'test',
  async analyze(image: Buffer): Promise<AnalyzedImage> {
    if (image.toString().includes('flaky')) throw new Error('the engine hiccuped');
    return { width: 64, height: 64, faces: [] };
  },
  async close() {},
};

describe('worker settle reports', () => {
  const scope = workerScope({ retryBaseSeconds: 30 });

  /** A worker on the scope's stores with this report callback, running. */
  function start(onSettled: (jobId: string, state: JobState) => void): void {
    const { dir, stores, runner } = scope;
    scope.worker = createWorker({ config: loadConfig({ dataDir: dir, queueWait: 1, workerId: 'w-settle' }, {}), log: silentLogger(), engine, runner, ...stores, onSettled });
    void scope.worker.run();
  }

  /** A job whose input is `bytes`, or has no stored input at all (null). */
  async function submit(id: string, bytes: string | null): Promise<void> {
    const key = `inputs/${id}`;
    const { stores, runner } = scope;
    if (bytes !== null) await stores.blobs.put(key, Buffer.from(bytes));
    await runner.create({ id, kind: 'recognize', input: { key, contentType: 'image/jpeg', bytes: 5 }, options: { topK: 3, threshold: 0.6 }, maxAttempts: 3 });
    await runner.dispatch(id, { type: 'ENQUEUE' });
  }

  it('reports done and dead-lettered jobs once their state is stored, and not a retry', async () => {
    const reports: Array<[string, JobState, JobState | undefined]> = [];
    start((jobId, state) => {
      // Called after the save: reading the job back shows the state reported.
      reports.push([jobId, state, undefined]);
      void scope.stores.jobs.get(jobId).then((r) => (reports.find((x) => x[0] === jobId)![2] = r?.state));
    });
    await submit('ok', 'an image');
    await submit('lost', null);
    await submit('flaky', 'flaky image');
    await eventually(async () => (await scope.stores.jobs.get('flaky'))?.state === 'queued' && reports.length >= 2, 10_000, 'all three handled');
    await eventually(async () => reports.every((r) => r[2] !== undefined), 5_000, 'states read back');
    expect(reports.map((r) => r.slice(0, 2)).sort()).toEqual([
      ['lost', 'dead-lettered'],
      ['ok', 'done'],
    ]);
    for (const [, state, stored] of reports) expect(stored).toBe(state);
    // The flaky one went back to the queue to be retried later: not settled, not reported.
    expect(reports.some((r) => r[0] === 'flaky')).toBe(false);
  });

  it('a report that throws does not fail the job', async () => {
    start(() => {
      throw new Error('parent is gone');
    });
    await submit('ok', 'an image');
    await eventually(async () => (await scope.stores.jobs.get('ok'))?.state === 'done', 10_000, 'job done');
    expect((await scope.stores.jobs.get('ok'))?.state).toBe('done');
  });
});
