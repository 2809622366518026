import { sweepStuckJobs } from '../jobs/operations.js';
import type { JobRunner } from '../jobs/runner.js';
import { sweepOrphanInputs } from '../jobs/orphan-inputs.js';
import { sweepRetention, type RetentionState } from '../jobs/retention.js';
import type { Logger } from '../log.js';
import type { BlobStore, Gallery, JobQueue, JobStore } from '../store/ports.js';
import { sweepUnknowns, type UnknownSweepState } from '../unknowns/sweep.js';

export interface Sweeper {
  stop(): void;
}

/**
 * Every `intervalSeconds`, re-enqueue jobs left in `uploaded` or `queued` without a message for
 * longer than `staleSeconds` (see `sweepStuckJobs`), then delete input blobs that no job refers
 * to once they are `orphanGraceSeconds` old (see `sweepOrphanInputs`), then, with `retention`,
 * expire finished jobs' inputs and records (see `sweepRetention`), then, with `gallery`, expire
 * unknown clusters and ask for each tracking collection's nightly recluster (see `sweepUnknowns`).
 * One sweep at a time; the timer does not keep the process alive.
 */
export function startSweeper(
  deps: { jobs: JobStore; blobs: BlobStore; runner: JobRunner; log: Logger; queue?: JobQueue; gallery?: Gallery },
  options: {
    intervalSeconds: number;
    staleSeconds: number;
    orphanGraceSeconds?: number;
    retention?: { inputRetentionSeconds: number; jobRetentionSeconds: number };
    /** Attempt budget of the recluster jobs the sweep asks for. Default 3. */
    maxAttempts?: number;
    /**
     * Seconds between unknown-cluster sweeps (expiry, nightly recluster). Default 600: retention
     * is counted in days, and listing collections reads every collection's counts (a Query per
     * collection on DynamoDB), so it need not run at every sweep.
     */
    unknownSweepSeconds?: number;
  },
): Sweeper {
  const { log } = deps;
  let sweeping = false;
  const memory: RetentionState = {};
  const unknownMemory: UnknownSweepState = new Map();
  const { gallery } = deps;
  const unknownEveryMs = (options.unknownSweepSeconds ?? 600) * 1000;
  let lastUnknownSweep = -Infinity;
  const unknownSweepDue = () => {
    if (!gallery || Date.now() - lastUnknownSweep < unknownEveryMs) return false;
    lastUnknownSweep = Date.now();
    return true;
  };
  const { retention } = options;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepStuckJobs(deps, { staleSeconds: options.staleSeconds, now: new Date() })
      .then((n) => n > 0 && log.info({ swept: n }, 'stuck jobs re-enqueued'))
      .then(() => sweepOrphanInputs(deps, { graceSeconds: options.orphanGraceSeconds }))
      .then(() => retention && sweepRetention(deps, retention, memory))
      .then(async () => {
        if (gallery && unknownSweepDue()) await sweepUnknowns({ ...deps, gallery }, { maxAttempts: options.maxAttempts ?? 3 }, unknownMemory);
      })
      .catch((err: unknown) => log.warn({ err }, 'sweep failed'))
      .finally(() => (sweeping = false));
  }, options.intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
