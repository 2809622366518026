import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createJobEffects } from '../../src/jobs/effects.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/runner.js';
import { silentLogger } from '../../src/log.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import type { Worker } from '../../src/worker/worker.js';

/** Per-test local stores and a job runner in a temp dir; `worker`, when set, is stopped after each test. */
export interface WorkerScope {
  dir: string;
  stores: LocalStores;
  runner: JobRunner;
  worker: Worker | undefined;
}

/** Registers the beforeEach/afterEach of a worker test in the calling describe block. */
export function workerScope(options: { retryBaseSeconds: number }): WorkerScope {
  const scope = {} as WorkerScope;
  beforeEach(async () => {
    scope.dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    scope.stores = openLocalStores({ dataDir: scope.dir, log: silentLogger() });
    scope.runner = createJobRunner({
      store: scope.stores.jobs,
      effects: createJobEffects({ queue: scope.stores.queue, log: silentLogger(), retryBaseSeconds: options.retryBaseSeconds }),
      log: silentLogger(),
    });
    scope.worker = undefined;
  });
  afterEach(async () => {
    await scope.worker?.stop(1000);
    scope.worker = undefined;
    await scope.stores.close();
    await fs.rm(scope.dir, { recursive: true, force: true });
  });
  return scope;
}
