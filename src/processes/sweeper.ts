import { sweepStuckJobs } from '../jobs/operations.js';
import type { JobRunner } from '../jobs/runner.js';
import { sweepOrphanInputs } from '../jobs/orphan-inputs.js';
import type { Logger } from '../log.js';
import type { BlobStore, JobStore } from '../store/ports.js';

export interface Sweeper {
  stop(): void;
}

/**
 * Every `intervalSeconds`, re-enqueue jobs left in `uploaded` or `queued` without a message for
 * longer than `staleSeconds` (see `sweepStuckJobs`), then delete input blobs that no job refers
 * to once they are `orphanGraceSeconds` old (see `sweepOrphanInputs`). One sweep at a time; the
 * timer does not keep the process alive.
 */
export function startSweeper(
  deps: { jobs: JobStore; blobs: BlobStore; runner: JobRunner; log: Logger },
  options: { intervalSeconds: number; staleSeconds: number; orphanGraceSeconds?: number },
): Sweeper {
  const { log } = deps;
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepStuckJobs(deps, { staleSeconds: options.staleSeconds, now: new Date() })
      .then((n) => n > 0 && log.info({ swept: n }, 'stuck jobs re-enqueued'))
      .then(() => sweepOrphanInputs(deps, { graceSeconds: options.orphanGraceSeconds }))
      .catch((err: unknown) => log.warn({ err }, 'sweep failed'))
      .finally(() => (sweeping = false));
  }, options.intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
