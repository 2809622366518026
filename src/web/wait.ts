import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRecord } from '../jobs/types.js';
import { TERMINAL_STATES } from '../jobs/types.js';
import { TurnBatch } from '../turn-batch.js';

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
 *
 * With `version` (a cheap look at the job's current version, undefined when it is gone), each
 * tick looks at that first and reads the whole record only when it moved. Sleeps end on a
 * grid of the gap (multiples of it on the process clock), so waiters with the same gap wake
 * together and a {@link VersionBatcher} answers all of them with one store call.
 */
export async function waitForJob(
  read: () => Promise<JobRecord | null>,
  options: { timeoutMs: number; signal?: AbortSignal; poll?: PollOptions; version?: (id: string) => Promise<number | undefined> },
): Promise<JobRecord | null> {
  const poll = options.poll ?? DEFAULT_POLL;
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let record = await read();
  let gap = poll.initialMs;
  while (record && !isTerminal(record) && !options.signal?.aborted) {
    const now = performance.now();
    const left = deadline - now;
    if (left <= 0) break;
    try {
      // To the next grid point; a timer may fire a little early (node starts it from the loop's
      // cached time), so a remainder under a quarter gap means "this point": go to the next one.
      const toGrid = gap - (now % gap);
      await sleep(Math.min(options.version ? (toGrid < gap / 4 ? toGrid + gap : toGrid) : gap, left), undefined, { signal: options.signal });
    } catch {
      break; // aborted
    }
    const ceiling = performance.now() - started < poll.slowAfterMs ? poll.maxMs : poll.slowMaxMs;
    gap = Math.min(ceiling, gap * poll.factor);
    if (options.version && (await options.version(record.id)) === record.version) continue;
    record = await read();
  }
  return record;
}

/**
 * Merges the version look-ups of every long-poll in one process that ask in the same turn of
 * the event loop into one `versions(ids)` call (see `JobStore.versions`): with many clients
 * waiting, one small query per tick instead of one read of a whole record per waiter.
 */
export class VersionBatcher {
  private readonly batch = new TurnBatch<{ id: string; resolve: (v: number | undefined) => void; reject: (err: unknown) => void }>((items) => {
    this.versions([...new Set(items.map((i) => i.id))]).then(
      (found) => {
        for (const i of items) i.resolve(found.get(i.id));
      },
      (err: unknown) => {
        for (const i of items) i.reject(err);
      },
    );
  });

  constructor(private readonly versions: (ids: string[]) => Promise<Map<string, number>>) {}

  /** The job's current version, undefined when there is no such job. */
  version = (id: string): Promise<number | undefined> => new Promise((resolve, reject) => this.batch.add({ id, resolve, reject }));
}
