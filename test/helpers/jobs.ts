/**
 * Builders and in-memory fakes for the job unit tests. The fakes are for unit tests of code
 * above the ports only; the real adapters are covered by the contract suites.
 */
import { initialTransition, transition } from 'xstate';
import { randomUUID } from 'node:crypto';
import type { ErrorInfo } from '../../src/errors.js';
import type { JobEffects } from '../../src/jobs/effects.js';
import type { JobCommand } from '../../src/jobs/runner.js';
import { persistJobSnapshot } from '../../src/jobs/snapshot.js';
import type { JobMessage, JobRecord, JobResult, JobState } from '../../src/jobs/types.js';
import { jobMachine, type JobAction, type JobActionParams, type JobEvent } from '../../src/machines/job.js';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../../src/store/errors.js';
import type {
  DeadLetterMessage,
  JobQueue,
  JobStore,
  ListOptions,
  Page,
  QueueDepth,
  ReceivedMessage,
} from '../../src/store/ports.js';
import { at } from './builders.js';


export const aResult = (): JobResult => ({ width: 64, height: 64, faces: [] });
export const retryable = (message = 'engine hiccup'): ErrorInfo => ({ code: 'unexpected', message, retryable: true });
export const permanent = (message = 'not an image'): ErrorInfo => ({ code: 'bad-image', message, retryable: false });

/** Stamp a command with `at` (seconds from the base). */
export function ev(command: JobCommand, seconds: number): JobEvent {
  return { ...command, at: at(seconds) } as JobEvent;
}

/** The machine's snapshot after feeding `commands`, one second apart after creation at 0. */
export function snapshotAfter(commands: JobCommand[], input: { id?: string; maxAttempts?: number } = {}) {
  let [snapshot] = initialTransition(jobMachine, { id: input.id ?? 'job-1', maxAttempts: input.maxAttempts ?? 3, at: at(0) });
  commands.forEach((command, i) => {
    [snapshot] = transition(jobMachine, snapshot, ev(command, i + 1));
  });
  return snapshot;
}

/** The command sequences that bring a job to each state (worker w1, 30 s leases). */
export const TO_STATE: Record<JobState, JobCommand[]> = {
  uploaded: [],
  queued: [{ type: 'ENQUEUE' }],
  processing: [{ type: 'ENQUEUE' }, { type: 'START', workerId: 'w1', leaseSeconds: 30 }],
  done: [{ type: 'ENQUEUE' }, { type: 'START', workerId: 'w1', leaseSeconds: 30 }, { type: 'SUCCEED', workerId: 'w1', result: aResult() }],
  'dead-lettered': [
    { type: 'ENQUEUE' },
    { type: 'START', workerId: 'w1', leaseSeconds: 30 },
    { type: 'FAIL', workerId: 'w1', error: permanent() },
  ],
};

export interface MakeJobRecordOptions {
  id?: string;
  state?: JobState;
  /** Commands to drive the machine with (overrides `state`). */
  commands?: JobCommand[];
  maxAttempts?: number;
  updatedAt?: string;
  createdAt?: string;
  version?: number;
  kind?: JobRecord['kind'];
}

/** A job record whose snapshot is a real machine snapshot reached by real transitions. */
export function makeJobRecord(options: MakeJobRecordOptions = {}): JobRecord {
  const id = options.id ?? `job-${randomUUID()}`;
  const snapshot = snapshotAfter(options.commands ?? TO_STATE[options.state ?? 'queued'], { id, maxAttempts: options.maxAttempts });
  const updatedAt = options.updatedAt ?? at(100);
  return {
    id,
    version: options.version ?? 0,
    state: snapshot.value,
    kind: options.kind ?? 'recognize',
    createdAt: options.createdAt ?? at(0),
    updatedAt,
    input: { key: `jobs/${id}/input`, contentType: 'image/jpeg', bytes: 1000, filename: 'face.jpg' },
    options: { topK: 3, threshold: 0.6 },
    snapshot: persistJobSnapshot(snapshot),
  };
}

/** Only the effect actions of a transition, as `{ type, params }`. */
export function effectsOf(actions: readonly { type: string; params?: unknown }[]): { type: string; params: unknown }[] {
  return actions.map((a) => ({ type: a.type, params: a.params }));
}

// ---------------------------------------------------------------- fakes

const clone = <T>(value: T): T => structuredClone(value);

/**
 * A JobStore in memory with the port's semantics (create-if-absent, save-if-version, lists
 * oldest-updatedAt first with key cursors). Hooks let a test interleave callers.
 */
export class InMemoryJobStore implements JobStore {
  readonly records = new Map<string, JobRecord>();
  readonly calls: string[] = [];
  /** Awaited after every get has read (before it returns). */
  afterGet?: (id: string) => Promise<void>;
  /** Awaited before every save writes. */
  beforeSave?: (record: JobRecord, expectedVersion: number) => Promise<void>;

  async create(record: JobRecord): Promise<void> {
    this.calls.push(`create ${record.id}`);
    if (this.records.has(record.id)) throw new AlreadyExistsError(`job ${record.id} already exists`);
    this.records.set(record.id, clone(record));
  }

  async get(id: string): Promise<JobRecord | null> {
    this.calls.push(`get ${id}`);
    const found = this.records.get(id);
    const copy = found ? clone(found) : null;
    await this.afterGet?.(id);
    return copy;
  }

  async save(record: JobRecord, expectedVersion: number): Promise<JobRecord> {
    await this.beforeSave?.(record, expectedVersion);
    this.calls.push(`save ${record.id}@${expectedVersion}`);
    const current = this.records.get(record.id);
    if (!current) throw new NotFoundError(`job ${record.id} not found`);
    if (current.version !== expectedVersion) throw new VersionConflictError(`job ${record.id} moved on`);
    const saved = { ...clone(record), version: expectedVersion + 1 };
    this.records.set(record.id, saved);
    return clone(saved);
  }

  async listByState(state: JobState, options: ListOptions = {}): Promise<Page<JobRecord>> {
    this.calls.push(`list ${state}`);
    const limit = options.limit ?? 100;
    const key = (r: JobRecord) => `${r.updatedAt}\u0000${r.id}`;
    const all = [...this.records.values()].filter((r) => r.state === state).sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const after = options.cursor === undefined ? undefined : Buffer.from(options.cursor, 'base64url').toString();
    const rest = after === undefined ? all : all.filter((r) => key(r) > after);
    const items = rest.slice(0, limit);
    const last = items[items.length - 1];
    return rest.length > limit && last ? { items: clone(items), cursor: Buffer.from(key(last)).toString('base64url') } : { items: clone(items) };
  }

  async countByState(): Promise<Record<JobState, number>> {
    const counts = { uploaded: 0, queued: 0, processing: 0, done: 0, 'dead-lettered': 0 };
    for (const r of this.records.values()) counts[r.state]++;
    return counts;
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  /** Put records in directly (no version rules). */
  seed(...records: JobRecord[]): void {
    for (const r of records) this.records.set(r.id, clone(r));
  }
}

/** A JobQueue that records every call; only what the job effects and operations use does anything. */
export class RecordingJobQueue implements JobQueue {
  readonly sent: { body: JobMessage; delaySeconds?: number }[] = [];
  readonly deleted: string[] = [];
  readonly extended: { receipt: string; seconds: number }[] = [];
  readonly deadLetterRemovals: string[] = [];
  deadLetters: DeadLetterMessage[] = [];
  /** Receipts whose delivery is over: extend throws NotFoundError for them. */
  readonly staleReceipts = new Set<string>();
  /** Make the next call of this method throw this error. */
  failNext: Partial<Record<'send' | 'delete' | 'extend' | 'deleteDeadLettersFor', Error>> = {};

  private maybeFail(method: keyof RecordingJobQueue['failNext']): void {
    const err = this.failNext[method];
    if (err) {
      delete this.failNext[method];
      throw err;
    }
  }

  async send(body: JobMessage, options: { delaySeconds?: number } = {}): Promise<string> {
    this.maybeFail('send');
    this.sent.push(options.delaySeconds === undefined ? { body } : { body, delaySeconds: options.delaySeconds });
    return `m-${this.sent.length}`;
  }
  async receive(): Promise<ReceivedMessage[]> {
    return [];
  }
  async extend(receipt: string, seconds: number): Promise<void> {
    this.maybeFail('extend');
    if (this.staleReceipts.has(receipt)) throw new NotFoundError(`receipt ${receipt} is stale`);
    this.extended.push({ receipt, seconds });
  }
  async delete(receipt: string): Promise<void> {
    this.maybeFail('delete');
    this.deleted.push(receipt);
  }
  async depth(): Promise<QueueDepth> {
    return { visible: this.sent.length, inFlight: 0, delayed: 0 };
  }
  async listDeadLetters(options: ListOptions = {}): Promise<Page<DeadLetterMessage>> {
    const start = options.cursor === undefined ? 0 : Number(options.cursor);
    const limit = options.limit ?? 100;
    const items = this.deadLetters.slice(start, start + limit);
    const next = start + limit;
    return next < this.deadLetters.length ? { items, cursor: String(next) } : { items };
  }
  async deleteDeadLettersFor(jobId: string): Promise<number> {
    this.maybeFail('deleteDeadLettersFor');
    this.deadLetterRemovals.push(jobId);
    const before = this.deadLetters.length;
    this.deadLetters = this.deadLetters.filter((m) => m.body.jobId !== jobId);
    return before - this.deadLetters.length;
  }
  async deadLetterDepth(): Promise<number> {
    return this.deadLetters.length;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

/** JobEffects that only record what they were asked to do, in order. */
export function recordingEffects(): JobEffects & { calls: JobAction[] } {
  const calls: JobAction[] = [];
  const handler =
    <K extends keyof JobActionParams>(type: K) =>
    async (params: JobActionParams[K]) => {
      calls.push({ type, params } as JobAction);
    };
  return {
    calls,
    enqueue: handler('enqueue'),
    acknowledge: handler('acknowledge'),
    scheduleRetry: handler('scheduleRetry'),
    removeDeadLetters: handler('removeDeadLetters'),
    announce: handler('announce'),
  };
}

/** A promise plus its resolver, for holding a fake's call open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
