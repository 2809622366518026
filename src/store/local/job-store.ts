import type { JobMessage, JobRecord, JobState } from '../../jobs/types.js';
import { JOB_STATES } from '../../jobs/types.js';
import type { IncomingJob, JobIntake, JobStore, ListOptions, Page } from '../ports.js';
import { AlreadyExistsError, NotFoundError, StorePermanentError, StoreUnavailableError, VersionConflictError } from '../errors.js';
import { TurnBatch } from '../../turn-batch.js';
import { decodeCursor, encodeCursor, pageLimit } from '../cursor.js';
import type { SqliteJobQueue, TransactionalSend } from './job-queue.js';
import { SqliteAdapter, translateSqliteError, truncateWal, type SqliteLease } from './sqlite.js';

interface JobRow {
  record: string;
}

/** A create waiting for the next group commit. */
interface PendingCreate {
  record: JobRecord;
  /** The queue to send `messages` on in the same transaction; absent for a bare create. */
  sender?: TransactionalSend;
  messages: JobMessage[];
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Set when this create's own writes failed (and were rolled back to its savepoint). */
  error?: unknown;
}

/**
 * JobStore on SQLite. The whole record is stored as JSON; `id`, `version`, `state` and
 * `updated_at` are copied into columns so saves can be conditional and lists indexed.
 *
 * Creates are group-committed: every `create` called in one turn of the event loop (a web
 * tier accepting many uploads at once) is written by one transaction at the next
 * `setImmediate`, each create in its own savepoint, and each caller's promise settles only
 * after that commit. A create whose own insert fails (an existing id) is rolled back to its
 * savepoint and rejects alone; a failure of the transaction itself (the write lock not
 * obtained, the commit failing) rejects every create in it. One commit per batch instead of
 * one per job: the WAL frames, locks and page writes of a commit are shared.
 */
export class SqliteJobStore extends SqliteAdapter implements JobStore {
  private readonly stmts;
  /** Runs its argument in one transaction (rolled back if it throws); nested, a savepoint. */
  private readonly inTransaction: (write: () => void) => void;
  /** Creates waiting for the scheduled group commit. */
  private readonly pending = new TurnBatch<PendingCreate>((batch) => this.flush(batch));

  constructor(lease: SqliteLease) {
    super(lease);
    const db = this.db;
    this.stmts = {
      insert: db.prepare<[string, number, string, string, string]>(
        'INSERT INTO jobs (id, version, state, updated_at, record) VALUES (?, ?, ?, ?, ?)',
      ),
      get: db.prepare<[string], JobRow>('SELECT record FROM jobs WHERE id = ?'),
      exists: db.prepare<[string], { version: number }>('SELECT version FROM jobs WHERE id = ?'),
      versions: db.prepare<[string], { id: string; version: number }>('SELECT id, version FROM jobs WHERE id IN (SELECT value FROM json_each(?))'),
      // The condition is the whole concurrency story: the write lands only if nobody saved since.
      save: db.prepare<[number, string, string, string, string, number]>(
        'UPDATE jobs SET version = ?, state = ?, updated_at = ?, record = ? WHERE id = ? AND version = ?',
      ),
      firstPage: db.prepare<[string, number], JobRow & { updated_at: string; id: string }>(
        'SELECT id, updated_at, record FROM jobs WHERE state = ? ORDER BY updated_at, id LIMIT ?',
      ),
      nextPage: db.prepare<[string, string, string, string, number], JobRow & { updated_at: string; id: string }>(
        `SELECT id, updated_at, record FROM jobs
         WHERE state = ? AND (updated_at > ? OR (updated_at = ? AND id > ?))
         ORDER BY updated_at, id LIMIT ?`,
      ),
      count: db.prepare<[], { state: string; n: number }>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state'),
      delete: db.prepare<[string]>('DELETE FROM jobs WHERE id = ?'),
    };
    // A write first, so the deferred BEGIN takes the write lock at once (no read-to-write upgrade).
    this.inTransaction = db.transaction((write: () => void) => write());
  }

  /**
   * Create-if-absent. Throws AlreadyExistsError, or StorePermanentError when `version` is not 0.
   * Resolves once committed (with the other creates of this event-loop turn, see the class).
   */
  create(record: JobRecord): Promise<void> {
    return this.enqueueCreate(record, undefined, []);
  }

  /**
   * The job intake of this store and `queue` (on the same connection): each job's record and its
   * messages go into one transaction, with the other creates of the turn, and commit together or not at all.
   */
  intakeWith(queue: SqliteJobQueue): JobIntake {
    const sender = queue.transactionalSend(this.db);
    return { accept: ({ record, messages }: IncomingJob) => this.enqueueCreate(record, messages.length > 0 ? sender : undefined, messages) };
  }

  private enqueueCreate(record: JobRecord, sender: TransactionalSend | undefined, messages: JobMessage[]): Promise<void> {
    const context = `create job ${record.id}`;
    if (!this.isOpen) return this.run(context, () => undefined);
    if (record.version !== 0) return Promise.reject(new StorePermanentError(`a new job must have version 0, got ${record.version}`));
    return new Promise<void>((resolve, reject) => {
      this.pending.add({ record, sender, messages, resolve, reject });
    });
  }

  /** Write every pending create in one transaction and settle their promises. */
  private flush(batch: PendingCreate[]): void {
    if (!this.isOpen) {
      for (const item of batch) item.reject(new StoreUnavailableError(`create job ${item.record.id}: store is closed`));
      return;
    }
    try {
      if (batch.length === 1) {
        // Alone: its own transaction, no savepoint.
        this.inTransaction(() => this.write(batch[0]));
      } else {
        this.inTransaction(() => {
          for (const item of batch) {
            try {
              this.inTransaction(() => this.write(item)); // a savepoint inside the batch
            } catch (err) {
              // Its own fault (an existing id, a refused row): only this create fails. The
              // store's trouble (the write lock busy, I/O, a full disk, after which SQLite may
              // have ended the whole transaction) fails the batch: every create gets it, and
              // the others do not wait out the busy timeout again one by one.
              if (!this.db.inTransaction || translateSqliteError(err, 'create').retryable) throw err;
              item.error = err;
            }
          }
        });
      }
    } catch (err) {
      for (const item of batch) item.reject(translateSqliteError(err, `create job ${item.record.id}`));
      return;
    }
    const woken = new Set<TransactionalSend>();
    for (const item of batch) {
      if (batch.length > 1 && item.error !== undefined) {
        item.reject(translateSqliteError(item.error, `create job ${item.record.id}`));
        continue;
      }
      if (item.sender) woken.add(item.sender);
      item.resolve();
    }
    for (const sender of woken) sender.committed();
  }

  private write(item: PendingCreate): void {
    this.insert(item.record);
    for (const body of item.messages) item.sender!.insert(body);
  }

  private insert(record: JobRecord): void {
    try {
      this.stmts.insert.run(record.id, 0, record.state, record.updatedAt, JSON.stringify(record));
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
        throw new AlreadyExistsError(`job ${record.id} already exists`, { cause: err });
      }
      throw err;
    }
  }

  get(id: string): Promise<JobRecord | null> {
    return this.run(`get job ${id}`, () => {
      const row = this.stmts.get.get(id);
      return row ? (JSON.parse(row.record) as JobRecord) : null;
    });
  }

  save(record: JobRecord, expectedVersion: number): Promise<JobRecord> {
    return this.run(`save job ${record.id}`, () => {
      const saved: JobRecord = { ...record, version: expectedVersion + 1 };
      const { changes } = this.stmts.save.run(
        saved.version,
        saved.state,
        saved.updatedAt,
        JSON.stringify(saved),
        saved.id,
        expectedVersion,
      );
      if (changes === 1) return saved;
      const current = this.stmts.exists.get(record.id);
      if (!current) throw new NotFoundError(`job ${record.id} not found`);
      throw new VersionConflictError(`job ${record.id} is at version ${current.version}, not ${expectedVersion}`, {
        details: { jobId: record.id, expectedVersion, actualVersion: current.version },
      });
    });
  }

  /** The current version of each job in `ids` that exists, in one query (no record is parsed). */
  versions(ids: readonly string[]): Promise<Map<string, number>> {
    return this.run(`versions of ${ids.length} jobs`, () => new Map(this.stmts.versions.all(JSON.stringify(ids)).map((r) => [r.id, r.version])));
  }

  /** Oldest `updatedAt` first (ties by id); the cursor is the last row's (updatedAt, id). */
  listByState(state: JobState, options: ListOptions = {}): Promise<Page<JobRecord>> {
    return this.run(`list jobs in ${state}`, () => {
      const limit = pageLimit(options.limit);
      // One extra row tells whether another page exists without a second query.
      let rows;
      if (options.cursor) {
        const c = decodeCursor(options.cursor, { u: 'string', i: 'string' });
        rows = this.stmts.nextPage.all(state, c.u as string, c.u as string, c.i as string, limit + 1);
      } else {
        rows = this.stmts.firstPage.all(state, limit + 1);
      }
      const more = rows.length > limit;
      const pageRows = more ? rows.slice(0, limit) : rows;
      const items = pageRows.map((r) => JSON.parse(r.record) as JobRecord);
      const last = pageRows[pageRows.length - 1];
      return more && last ? { items, cursor: encodeCursor({ u: last.updated_at, i: last.id }) } : { items };
    });
  }

  countByState(): Promise<Record<JobState, number>> {
    return this.run('count jobs by state', () => {
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      for (const row of this.stmts.count.all()) {
        if (row.state in counts) counts[row.state as JobState] = row.n;
      }
      return counts;
    });
  }

  delete(id: string): Promise<void> {
    return this.run(`delete job ${id}`, () => {
      // Only when a row went: the retention sweep deletes absent ids too, and those need no scrub.
      if (this.stmts.delete.run(id).changes > 0) truncateWal(this.db);
    });
  }

  /** Commits the creates still waiting for their group commit, then releases the connection. */
  override close(): Promise<void> {
    this.pending.drain();
    return super.close();
  }
}
