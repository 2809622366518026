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

/**
 * The pacing when workers report finished jobs to this web tier (`facefleet up`: see
 * {@link JobWatch.settled}). The reports wake a long-poll at once; the looks on the clock only
 * catch a job finished by a worker that does not report (one started by hand on the same data dir).
 */
export const HINTED_POLL: PollOptions = { initialMs: 100, maxMs: 100, factor: 1, slowAfterMs: 3_000, slowMaxMs: 250 };

/**
 * The next point after `now` on the grid of multiples of `gap` (ms, process clock), skipping one
 * closer than a quarter gap: waiters on the same gap fall due together and share one query.
 */
function nextGridPoint(now: number, gap: number): number {
  const point = Math.ceil(now / gap) * gap;
  return point - now < gap / 4 ? point + gap : point;
}

/** True once the job is `done` or `dead-lettered`. */
export function isTerminal(record: JobRecord): boolean {
  return TERMINAL_STATES.includes(record.state);
}

/**
 * Read the job until it is terminal, `timeoutMs` passes or `signal` aborts (client gone,
 * server closing); returns the last record read (null when the job does not exist). `initial`
 * is the record as the caller last saw it, read first otherwise.
 *
 * With `watch` (a store with `JobStore.versions`), the wait between reads is
 * {@link JobWatch.changed}: one shared clock and one small query per tick for every long-poll
 * of the process, and the whole record is read again only when its version moved. Without it,
 * each long-poll reads its record on its own clock, quickly at first and backing off
 * ({@link PollOptions}), so short jobs are answered within ~one gap of finishing.
 */
export async function waitForJob(
  read: () => Promise<JobRecord | null>,
  options: { timeoutMs: number; signal?: AbortSignal; poll?: PollOptions; watch?: JobWatch; initial?: JobRecord },
): Promise<JobRecord | null> {
  const poll = options.poll ?? DEFAULT_POLL;
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  // A caller that just wrote or read the job passes it: no need to read it again first.
  let record = options.initial ?? (await read());
  let gap = poll.initialMs;
  let pace: WatchPace | undefined;
  while (record && !isTerminal(record) && !options.signal?.aborted) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    if (options.watch) {
      // One pace for the whole wait: a version change (a heartbeat, queued -> processing) must
      // not restart the quick first looks.
      pace ??= { started, gap: poll.initialMs };
      if (!(await options.watch.changed(record.id, record.version, left, options.signal, pace))) break;
    } else {
      try {
        await sleep(Math.min(gap, left), undefined, { signal: options.signal });
      } catch {
        break; // aborted
      }
      const ceiling = performance.now() - started < poll.slowAfterMs ? poll.maxMs : poll.slowMaxMs;
      gap = Math.min(ceiling, gap * poll.factor);
    }
    record = await read();
  }
  return record;
}

/**
 * How far one long-poll's backoff has got: when its wait began (performance.now() ms) and its
 * current gap. {@link JobWatch.changed} reads and advances it, so successive calls of one wait
 * keep backing off.
 */
export interface WatchPace {
  started: number;
  gap: number;
}

interface Watcher {
  id: string;
  version: number;
  deadline: number;
  pace: WatchPace;
  /** When the store is asked next (performance.now() ms). */
  dueAt: number;
  finish(moved: boolean): void;
}

/**
 * Every long-poll of one web process, on one clock. Each waiter has its own pace
 * ({@link PollOptions}: quick at first, backing off), and falls due on the grid of its gap, so
 * waiters on the same gap fall due together. A single timer fires at the earliest time one is
 * due, and one `versions(ids)` call answers every waiter due then (or within a quarter of its
 * gap). A job reported finished ({@link settled}) is looked at on the next turn of the event
 * loop instead of at its next tick.
 *
 * So the cost of waiting is one timer and one small query per tick for the whole process, not
 * one timer, one promise chain and one read per waiter.
 */
export class JobWatch {
  private readonly waiters = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private checking = false;
  private again = false;
  private soon = false;

  constructor(
    private readonly versions: (ids: string[]) => Promise<Map<string, number>>,
    private readonly poll: PollOptions = DEFAULT_POLL,
  ) {}

  /** Long-polls waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  /**
   * Resolves true once the job's version is no longer `version` (or the job is gone, or the
   * store could not say: the caller's read then reports the store's error), false when `ms`
   * passes or `signal` aborts first. Never rejects.
   */
  changed(id: string, version: number, ms: number, signal?: AbortSignal, pace?: WatchPace): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const now = performance.now();
      const onAbort = () => w.finish(false);
      const w: Watcher = {
        id,
        version,
        deadline: now + ms,
        pace: pace ?? { started: now, gap: this.poll.initialMs },
        dueAt: 0,
        finish: (moved) => {
          if (!this.waiters.delete(w)) return;
          signal?.removeEventListener('abort', onAbort);
          resolve(moved);
        },
      };
      w.dueAt = nextGridPoint(now, w.pace.gap);
      this.waiters.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.schedule();
    });
  }

  /** A hint that job `id` has just moved (a worker finished it): its waiters look at once. */
  settled(id: string): void {
    let any = false;
    for (const w of this.waiters) {
      if (w.id === id) {
        w.dueAt = 0;
        any = true;
      }
    }
    if (any && !this.soon) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.tick();
      });
    }
  }

  private schedule(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const w of this.waiters) next = Math.min(next, w.dueAt, w.deadline);
    if (next === this.timerAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      void this.tick();
    }, Math.max(0, next - performance.now()));
  }

  private async tick(): Promise<void> {
    // One query at a time; whatever falls due meanwhile is looked at right after it.
    if (this.checking) {
      this.again = true;
      return;
    }
    const now = performance.now();
    const due: Watcher[] = [];
    for (const w of this.waiters) {
      if (w.deadline <= now) w.finish(false);
      // A timer can fire a little early, and waiters nearly due ride along with this query.
      else if (w.dueAt <= now + w.pace.gap / 4) due.push(w);
    }
    if (due.length > 0) {
      this.checking = true;
      let found: Map<string, number> | undefined;
      try {
        found = await this.versions([...new Set(due.map((w) => w.id))]);
      } catch {
        found = undefined;
      }
      this.checking = false;
      const after = performance.now();
      for (const w of due) {
        if (!this.waiters.has(w)) continue;
        if (!found || found.get(w.id) !== w.version) {
          w.finish(true);
          continue;
        }
        const ceiling = after - w.pace.started < this.poll.slowAfterMs ? this.poll.maxMs : this.poll.slowMaxMs;
        w.pace.gap = Math.min(ceiling, w.pace.gap * this.poll.factor);
        w.dueAt = nextGridPoint(after, w.pace.gap);
      }
    }
    if (this.again) {
      this.again = false;
      setImmediate(() => void this.tick());
    }
    this.schedule();
  }
}
