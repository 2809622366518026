/**
 * Retention: finished jobs' input images are deleted `inputRetentionSeconds` after the job
 * ended, and finished jobs' records (with their results) `jobRetentionSeconds` after it ended.
 * A dead-lettered job keeps its input until it is replayed (it then ends again, and the clock
 * starts again) or its record expires, so that a replay still has its image.
 *
 * Both sweeps read `listByState` oldest first and stop at the first job too young, so each
 * sweep touches only what is due, in batches of at most `batch` jobs; the rest waits for the
 * next sweep.
 */
import { silentLogger, type Logger } from '../log.js';
import type { BlobStore, JobQueue, JobStore } from '../store/ports.js';
import type { JobRecord } from './types.js';

export interface RetentionOptions {
  /** Seconds after a job ends before its input is deleted; 0 = at the next sweep. */
  inputRetentionSeconds: number;
  /** Seconds after a job ends before its record and result are deleted. */
  jobRetentionSeconds: number;
  /** At most this many jobs handled per state per sweep. Default 500. */
  batch?: number;
  /** Default: the system clock. */
  now?: Date;
}

export interface RetentionReport {
  inputsDeleted: number;
  jobsDeleted: number;
}

/** The stores a job lives in. With `queue`, the job's dead-letter messages are removed too. */
export interface JobDataDeps {
  blobs: BlobStore;
  jobs: JobStore;
  queue?: JobQueue;
}

/**
 * Delete everything stored for a job: its dead-letter messages, its input image, then its record
 * (whose snapshot holds the result). The record goes last, so that a failure part-way leaves a
 * record that a retry, or the retention sweep, still finds. Deleting an absent job succeeds.
 */
export async function deleteJobData(deps: JobDataDeps, record: Pick<JobRecord, 'id' | 'input'>): Promise<void> {
  await deps.queue?.deleteDeadLettersFor(record.id);
  await deps.blobs.delete(record.input.key);
  await deps.jobs.delete(record.id);
}

/**
 * Where the input sweep of `done` jobs got to: the store cursor after the last page whose jobs
 * were all past input retention. Done is terminal and the listing is ordered by `updatedAt`, so
 * the jobs before it have had their inputs deleted already; the next sweep starts there instead
 * of deleting them again. Held in memory: a restarted sweeper re-deletes once (deletes are
 * idempotent).
 */
export interface RetentionState {
  doneInputsCursor?: string;
}

async function expireRecords(
  deps: JobDataDeps,
  state: 'done' | 'dead-lettered',
  cutoff: number,
  batch: number,
): Promise<number> {
  // Deleting shrinks the listing, so each pass starts from the front again.
  const page = await deps.jobs.listByState(state, { limit: batch });
  let deleted = 0;
  for (const record of page.items) {
    if (Date.parse(record.updatedAt) > cutoff) break;
    await deleteJobData(deps, record);
    deleted++;
  }
  return deleted;
}

async function expireDoneInputs(
  deps: { blobs: BlobStore; jobs: JobStore },
  cutoff: number,
  batch: number,
  memory: RetentionState,
): Promise<number> {
  const page = await deps.jobs.listByState('done', { limit: batch, ...(memory.doneInputsCursor ? { cursor: memory.doneInputsCursor } : {}) });
  let deleted = 0;
  let whole = true;
  for (const record of page.items) {
    if (Date.parse(record.updatedAt) > cutoff) {
      whole = false;
      break;
    }
    await deps.blobs.delete(record.input.key);
    deleted++;
  }
  if (whole && page.cursor !== undefined) memory.doneInputsCursor = page.cursor;
  return deleted;
}

/**
 * One retention sweep: expire records past job retention (done and dead-lettered), then delete
 * the inputs of done jobs past input retention. Returns what it deleted (input deletes count the
 * jobs whose input was deleted, including inputs already gone).
 */
export async function sweepRetention(
  deps: JobDataDeps & { log?: Logger },
  options: RetentionOptions,
  memory: RetentionState = {},
): Promise<RetentionReport> {
  const log = deps.log ?? silentLogger();
  const now = (options.now ?? new Date()).getTime();
  const batch = options.batch ?? 500;
  const report: RetentionReport = { inputsDeleted: 0, jobsDeleted: 0 };
  const jobCutoff = now - options.jobRetentionSeconds * 1000;
  for (const state of ['done', 'dead-lettered'] as const) {
    report.jobsDeleted += await expireRecords(deps, state, jobCutoff, batch);
  }
  // A store cursor can name a deleted record; it stays valid (it is a position, not a row).
  report.inputsDeleted = await expireDoneInputs(deps, now - options.inputRetentionSeconds * 1000, batch, memory);
  if (report.jobsDeleted > 0 || report.inputsDeleted > 0) log.info({ ...report }, 'retention sweep deleted expired data');
  return report;
}
