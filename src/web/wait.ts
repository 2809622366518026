import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRecord } from '../jobs/types.js';
import { TERMINAL_STATES } from '../jobs/types.js';

/**
 * How long-polls pace their reads of the job store. A job is seen at most one gap after it
 * finishes, so gaps stay short (<= `maxMs`) while most jobs finish (the first `slowAfterMs`),
 * then grow to `slowMaxMs` so a long wait does not keep hammering the store.
 */
export interface PollOptions {
  /** First gap between reads, ms. Default 5. */
  initialMs: number;
  /**
   * Gaps grow by `factor` up to this during the first `slowAfterMs`, ms. Default 15: a job is
   * answered ~7 ms after it finishes on average, for ~70 reads a second per waiting request
   * (cheap on SQLite; raise it on DynamoDB if reads cost too much).
   */
  maxMs: number;
  /** Default 1.5. */
  factor: number;
  /** After this long waiting, gaps may grow to `slowMaxMs`, ms. Default 3 000. */
  slowAfterMs: number;
  /** Default 250. */
  slowMaxMs: number;
}

/** See {@link PollOptions}. */
export const DEFAULT_POLL: PollOptions = { initialMs: 5, maxMs: 15, factor: 1.5, slowAfterMs: 3_000, slowMaxMs: 250 };

/** True once the job is `done` or `dead-lettered`. */
export function isTerminal(record: JobRecord): boolean {
  return TERMINAL_STATES.includes(record.state);
}

/**
 * Read the job until it is terminal, `timeoutMs` passes or `signal` aborts (client gone,
 * server closing); returns the last record read (null when the job does not exist).
 * Reads quickly at first and backs off, so short jobs are answered within ~one gap of
 * finishing without hammering the store for long ones.
 */
export async function waitForJob(
  read: () => Promise<JobRecord | null>,
  options: { timeoutMs: number; signal?: AbortSignal; poll?: PollOptions },
): Promise<JobRecord | null> {
  const poll = options.poll ?? DEFAULT_POLL;
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let record = await read();
  let gap = poll.initialMs;
  while (record && !isTerminal(record) && !options.signal?.aborted) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    try {
      await sleep(Math.min(gap, left), undefined, { signal: options.signal });
    } catch {
      break; // aborted
    }
    const ceiling = performance.now() - started < poll.slowAfterMs ? poll.maxMs : poll.slowMaxMs;
    gap = Math.min(ceiling, gap * poll.factor);
    record = await read();
  }
  return record;
}
