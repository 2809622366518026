import type { JobRecord, JobState } from '../../jobs/types.js';
import { JOB_STATES } from '../../jobs/types.js';
import type { JobCreateOptions, JobQueue, JobStore, ListOptions, Page } from '../ports.js';
import { AlreadyExistsError, NotFoundError, StorePermanentError, VersionConflictError } from '../errors.js';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.js';
import { sqliteQueueOn } from './job-queue.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

interface JobRow {
  record: string;
}

/**
 * JobStore on SQLite. The whole record is stored as JSON; `id`, `version`, `state` and
 * `updated_at` are copied into columns so saves can be conditional and lists indexed.
 */
export class SqliteJobStore extends SqliteAdapter implements JobStore {
  private readonly stmts;
  /** Runs its argument in one transaction (rolled back if it throws). */
  private readonly createAndSend: (write: () => void) => void;

  constructor(lease: SqliteLease) {
    super(lease);
    const db = this.db;
    this.stmts = {
      insert: db.prepare<[string, number, string, string, string]>(
        'INSERT INTO jobs (id, version, state, updated_at, record) VALUES (?, ?, ?, ?, ?)',
      ),
      get: db.prepare<[string], JobRow>('SELECT record FROM jobs WHERE id = ?'),
      exists: db.prepare<[string], { version: number }>('SELECT version FROM jobs WHERE id = ?'),
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
    this.createAndSend = db.transaction((write: () => void) => write());
  }

  /**
   * Create-if-absent. Throws AlreadyExistsError, or StorePermanentError when `version` is not 0.
   * With `options.send` (only when `sendsWith(queue)`), the messages go into the queue's table
   * in the same transaction: the record and its messages commit together or not at all.
   */
  create(record: JobRecord, options?: JobCreateOptions): Promise<void> {
    return this.run(`create job ${record.id}`, () => {
      if (record.version !== 0) throw new StorePermanentError(`a new job must have version 0, got ${record.version}`);
      if (!options?.send || options.send.messages.length === 0) {
        this.insert(record);
        return;
      }
      const sender = sqliteQueueOn(options.send.queue, this.db);
      if (!sender) {
        throw new StorePermanentError(`create job ${record.id}: this job store cannot send on that queue in its transaction (check sendsWith first)`);
      }
      const { messages } = options.send;
      this.createAndSend(() => {
        this.insert(record);
        for (const body of messages) sender.insert(body);
      });
      sender.committed();
    });
  }

  /** True for the SqliteJobQueue on this store's own connection (not a wrapper of it). */
  sendsWith(queue: JobQueue): boolean {
    return sqliteQueueOn(queue, this.db) !== undefined;
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
      this.stmts.delete.run(id);
    });
  }
}
