/**
 * Operator logic shared by the CLI and the HTTP API: list dead letters, replay them, sweep
 * jobs whose message may have been lost, and turn the queue's dead letters into dead-lettered
 * jobs. Everything goes through the runner, so every change is a machine transition, and
 * everything is driven by job state, so an interrupted run is resumed by running it again.
 */
import { errorInfo, type ErrorInfo } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { JobQueue, JobStore, Page } from '../store/ports.js';
import { CorruptJobSnapshotError, InvalidJobRequestError, JobEffectError } from './errors.js';
import type { JobRunner } from './runner.js';
import { jobContext } from './view.js';
import type { JobRecord, JobState } from './types.js';

// ---------------------------------------------------------------- listing dead letters

export interface DeadLetterSummary {
  id: string;
  reason: string;
  attempts: number;
  lastError?: ErrorInfo;
  /** ISO time the job was dead-lettered. */
  at: string;
}

export interface ListDeadLettersOptions {
  /** Case-insensitive substring of the dead-letter reason. */
  reason?: string;
  /** Only jobs dead-lettered at or after this ISO time. */
  since?: string;
  cursor?: string;
  /** Page size, 1..1000. Default 100. */
  limit?: number;
}

function deadLetterSummary(record: JobRecord): DeadLetterSummary {
  let context;
  try {
    context = jobContext(record);
  } catch (err) {
    // One unreadable record must not hide every other dead letter from operators.
    if (!(err instanceof CorruptJobSnapshotError)) throw err;
    return { id: record.id, reason: 'unreadable job snapshot', attempts: 0, at: record.updatedAt };
  }
  const entered = [...context.history].reverse().find((h) => h.to === 'dead-lettered');
  const summary: DeadLetterSummary = {
    id: record.id,
    reason: context.deadLetterReason ?? 'unknown',
    attempts: context.attempts,
    at: entered?.at ?? record.updatedAt,
  };
  if (context.error !== undefined) summary.lastError = context.error;
  return summary;
}

function reasonMatcher(reason: string | undefined): (summary: DeadLetterSummary) => boolean {
  if (reason === undefined || reason === '') return () => true;
  const needle = reason.toLowerCase();
  return (summary) => summary.reason.toLowerCase().includes(needle);
}

function parseTime(value: string, what: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidJobRequestError(`${what} is not an ISO time: ${value}`);
  return ms;
}

/**
 * Dead-lettered jobs, oldest first, filtered by reason and time. Cursor paging is exact even
 * with filters: each store page asked for is only as large as the room left in this page, so
 * the store's cursor after it never skips an unseen job.
 */
export async function listDeadLetters(jobs: JobStore, options: ListDeadLettersOptions = {}): Promise<Page<DeadLetterSummary>> {
  const limit = Math.min(Math.max(Math.floor(options.limit ?? 100), 1), 1000);
  const matches = reasonMatcher(options.reason);
  const since = options.since === undefined ? undefined : parseTime(options.since, 'since');
  const items: DeadLetterSummary[] = [];
  let cursor = options.cursor;
  do {
    const page = await jobs.listByState('dead-lettered', { limit: limit - items.length, cursor });
    for (const record of page.items) {
      const summary = deadLetterSummary(record);
      if (!matches(summary)) continue;
      if (since !== undefined && Date.parse(summary.at) < since) continue;
      items.push(summary);
    }
    cursor = page.cursor;
  } while (cursor !== undefined && items.length < limit);
  return cursor === undefined ? { items } : { items, cursor };
}

// ---------------------------------------------------------------- replay

/** Which dead letters to replay: given ids, every one, or those whose reason matches. */
export interface ReplaySelector {
  ids?: string[];
  all?: boolean;
  /** Case-insensitive substring of the reason; with or without `all`, selects the matching dead letters. */
  reason?: string;
}

export type ReplayOutcome =
  | { id: string; outcome: 'replayed' | 'would-replay' }
  | { id: string; outcome: 'skipped'; state: JobState }
  | { id: string; outcome: 'not-found' }
  | { id: string; outcome: 'failed'; error: ErrorInfo };

export interface ReplayOptions {
  /** Report what would be replayed; change nothing. */
  dryRun?: boolean;
  /** At most this many replays per second (each enqueues a message). Default 20; 0 = no limit. */
  ratePerSecond?: number;
  /** Stop early; the report says what was done. A rerun picks up what is still dead-lettered. */
  signal?: AbortSignal;
  onProgress?(done: number, total: number, outcome: ReplayOutcome): void;
  /** Who asked, for the log. */
  by?: string;
}

export interface ReplayReport {
  /** Jobs the selector matched: for ids, every distinct id; otherwise the matching dead letters. */
  matched: number;
  /** Jobs sent back to queued (in a dry run: that would be). */
  replayed: number;
  /** Jobs not dead-lettered (any more), with the state they are in. Unchanged. */
  skipped: { id: string; state: JobState }[];
  notFound: string[];
  /** Jobs whose replay threw before it was saved (e.g. the store was unavailable). */
  failed: { id: string; error: ErrorInfo }[];
  dryRun: boolean;
  /** True when the signal stopped the run before every match was handled. */
  aborted: boolean;
}

export interface ReplayDeps {
  jobs: JobStore;
  runner: JobRunner;
  log?: Logger;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Spaces calls at least 1/rate seconds apart, starting with no wait. */
function rateLimiter(ratePerSecond: number, signal?: AbortSignal): () => Promise<void> {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) return async () => {};
  const intervalMs = 1000 / ratePerSecond;
  let nextAt = -Infinity;
  return async () => {
    const wait = nextAt - Date.now();
    if (wait > 0) await pause(wait, signal);
    nextAt = Math.max(Date.now(), nextAt) + intervalMs;
  };
}

async function selectedDeadLetters(jobs: JobStore, reason: string | undefined): Promise<string[]> {
  const matches = reasonMatcher(reason);
  const ids: string[] = [];
  let cursor: string | undefined;
  // Collect first: replaying moves jobs out of the listing being paged through.
  do {
    const page = await jobs.listByState('dead-lettered', { limit: 500, cursor });
    for (const record of page.items) if (matches(deadLetterSummary(record))) ids.push(record.id);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return ids;
}

/**
 * Replay dead-lettered jobs: each goes back to queued with its history kept and a fresh
 * attempt budget. A job that is not dead-lettered is left alone and reported in `skipped`, so
 * replaying twice enqueues once.
 */
export async function replayJobs(deps: ReplayDeps, selector: ReplaySelector, options: ReplayOptions = {}): Promise<ReplayReport> {
  const { jobs, runner } = deps;
  const log = deps.log ?? silentLogger();
  const byIds = selector.ids !== undefined;
  if (byIds && (selector.all || selector.reason !== undefined)) {
    throw new InvalidJobRequestError('replay takes either ids, or all / a reason, not both');
  }
  if (byIds && selector.ids!.length === 0) throw new InvalidJobRequestError('replay: no job ids given');
  if (!byIds && !selector.all && (selector.reason === undefined || selector.reason === '')) {
    throw new InvalidJobRequestError('replay needs ids, all, or a reason');
  }

  const dryRun = options.dryRun ?? false;
  const ids = byIds ? [...new Set(selector.ids)] : await selectedDeadLetters(jobs, selector.reason);
  const report: ReplayReport = { matched: ids.length, replayed: 0, skipped: [], notFound: [], failed: [], dryRun, aborted: false };
  const throttle = rateLimiter(options.ratePerSecond ?? 20, options.signal);

  const decide = async (id: string): Promise<ReplayOutcome> => {
    if (dryRun || byIds) {
      // Given ids may name anything, so look first; the dispatch below still decides atomically.
      const record = await jobs.get(id);
      if (record === null) return { id, outcome: 'not-found' };
      if (record.state !== 'dead-lettered') return { id, outcome: 'skipped', state: record.state };
      if (dryRun) return { id, outcome: 'would-replay' };
    }
    await throttle();
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    try {
      const { record, changed } = await runner.dispatch(id, { type: 'REPLAY', ...(options.by === undefined ? {} : { by: options.by }) });
      if (record === null) return { id, outcome: 'not-found' };
      return changed ? { id, outcome: 'replayed' } : { id, outcome: 'skipped', state: record.state };
    } catch (err) {
      // Saved as queued but an effect failed: the job is replayed and the sweeper re-sends its message.
      if (err instanceof JobEffectError) {
        log.warn({ jobId: id, action: err.action, err }, 'replayed, but an effect failed; the sweeper will finish it');
        return { id, outcome: 'replayed' };
      }
      return { id, outcome: 'failed', error: errorInfo(err) };
    }
  };

  let done = 0;
  for (const id of ids) {
    if (options.signal?.aborted) break;
    let outcome: ReplayOutcome;
    try {
      outcome = await decide(id);
    } catch (err) {
      if (options.signal?.aborted) break;
      outcome = { id, outcome: 'failed', error: errorInfo(err) };
    }
    switch (outcome.outcome) {
      case 'replayed':
      case 'would-replay':
        report.replayed++;
        break;
      case 'skipped':
        report.skipped.push({ id, state: outcome.state });
        break;
      case 'not-found':
        report.notFound.push(id);
        break;
      case 'failed':
        report.failed.push({ id, error: outcome.error });
        break;
    }
    done++;
    options.onProgress?.(done, ids.length, outcome);
  }
  report.aborted = done < ids.length;
  log.info(
    { matched: report.matched, replayed: report.replayed, skipped: report.skipped.length, notFound: report.notFound.length, failed: report.failed.length, dryRun, aborted: report.aborted, by: options.by },
    'replay finished',
  );
  return report;
}

// ---------------------------------------------------------------- sweeping

export interface SweepOptions {
  /**
   * A job in uploaded/queued untouched for this long is assumed to have lost its message.
   * Choose it above the longest normal wait in the queue and the longest retry backoff (300 s).
   */
  staleSeconds: number;
  /** Default: the system clock. */
  now?: Date;
}

/**
 * Dispatch SWEEP to every job in `uploaded` or `queued` whose last change is older than
 * `staleSeconds`, which (re)sends its message. Returns how many jobs were swept. A swept
 * job's updatedAt moves to now, so it is not swept again for another `staleSeconds`.
 */
export async function sweepStuckJobs(deps: { jobs: JobStore; runner: JobRunner; log?: Logger }, options: SweepOptions): Promise<number> {
  const { jobs, runner } = deps;
  const log = deps.log ?? silentLogger();
  const cutoff = (options.now ?? new Date()).getTime() - options.staleSeconds * 1000;
  let swept = 0;
  for (const state of ['uploaded', 'queued'] as const) {
    // Collect first: sweeping moves a job to the end of its state's listing.
    const stale: string[] = [];
    let cursor: string | undefined;
    scan: do {
      const page = await jobs.listByState(state, { limit: 500, cursor });
      for (const record of page.items) {
        // The listing is oldest first, so the first fresh job ends the scan.
        if (Date.parse(record.updatedAt) > cutoff) break scan;
        stale.push(record.id);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);

    for (const id of stale) {
      try {
        const { changed } = await runner.dispatch(id, { type: 'SWEEP' });
        if (changed) swept++;
      } catch (err) {
        log.warn({ jobId: id, err }, 'sweep failed for job; the next sweep retries it');
      }
    }
  }
  if (swept > 0) log.info({ swept }, 'stuck jobs re-enqueued');
  return swept;
}

// ---------------------------------------------------------------- reconciling the DLQ

export function abandonReason(receiveCount: number): string {
  return `gave up after ${receiveCount} deliveries (worker crashed or timed out each time)`;
}

/**
 * For each message in the queue's dead-letter queue whose job is still queued or processing
 * (with its lease run out), dispatch ABANDON so the job shows as dead-lettered with a reason.
 * The message stays in the DLQ; replaying the job removes it. Returns how many jobs changed.
 */
export async function reconcileDeadLetters(deps: { queue: JobQueue; runner: JobRunner; log?: Logger }): Promise<number> {
  const { queue, runner } = deps;
  const log = deps.log ?? silentLogger();
  let abandoned = 0;
  let cursor: string | undefined;
  do {
    const page = await queue.listDeadLetters({ limit: 100, cursor });
    for (const message of page.items) {
      const jobId = message.body.jobId;
      try {
        const { changed } = await runner.dispatch(jobId, {
          type: 'ABANDON',
          reason: abandonReason(message.receiveCount),
          sentAt: message.sentAt,
        });
        if (changed) abandoned++;
      } catch (err) {
        log.warn({ jobId, err }, 'could not reconcile dead letter; the next run retries it');
      }
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  if (abandoned > 0) log.info({ abandoned }, 'jobs dead-lettered from the queue');
  return abandoned;
}
