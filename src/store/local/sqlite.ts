import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../../log.js';
import { FacefleetError } from '../../errors.js';
import {
  AlreadyExistsError,
  StorePermanentError,
  StoreUnavailableError,
} from '../errors.js';
import { DIR_MODE, FILE_MODE } from './modes.js';
import { MIGRATIONS } from './schema.js';

/** The file every embedded store shares, inside the data dir. */
export const DATABASE_FILE = 'facefleet.db';

/**
 * How long a statement waits for another process's write lock before SQLITE_BUSY.
 * Writes here are single short statements, so 5 s only runs out when something is stuck.
 */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * One lease on the process-wide connection to a data dir's database. Every adapter holds its
 * own lease; the connection closes when the last lease is released.
 */
export interface SqliteLease {
  readonly db: Database.Database;
  /** The database file, absolute; also the key of the shared connection. */
  readonly file: string;
  /** Release this lease. Idempotent. */
  release(): void;
}

interface Shared {
  db: Database.Database;
  leases: number;
}

const shared = new Map<string, Shared>();

/**
 * Lease the connection to `<dataDir>/facefleet.db`, opening it (WAL, busy timeout,
 * synchronous=NORMAL, migrations) if this process has none yet. Creates the data dir.
 * Throws StoreUnavailableError when the file cannot be opened.
 */
export function acquireDatabase(dataDir: string, log?: Logger): SqliteLease {
  const file = path.resolve(dataDir, DATABASE_FILE);
  let entry = shared.get(file);
  if (!entry) {
    entry = { db: openDatabase(file, log), leases: 0 };
    shared.set(file, entry);
  }
  entry.leases += 1;
  const current = entry;
  let released = false;
  return {
    db: current.db,
    file,
    release() {
      if (released) return;
      released = true;
      current.leases -= 1;
      if (current.leases === 0) {
        shared.delete(file);
        current.db.close();
      }
    },
  };
}

/**
 * Switch to WAL. Two processes opening a new database at once can both try, and SQLite answers
 * the loser SQLITE_BUSY at once, without its busy handler: so try again, briefly, until the
 * other's switch is done (then the mode is already WAL and the pragma takes no lock).
 */
function walMode(db: Database.Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function openDatabase(file: string, log?: Logger): Database.Database {
  try {
    // Owner only (see modes.ts): the file is created 0600 before SQLite opens it.
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: DIR_MODE });
    fs.closeSync(fs.openSync(file, 'a', FILE_MODE));
    const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      // WAL lets the web tier read while a worker writes; NORMAL is durable across process
      // crashes (only an OS crash can lose the last commits), which is the failure we plan for.
      walMode(db);
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Deleted rows are overwritten with zeros, not left in free pages: deleting a job or a face
      // must remove its bytes from the file (biometric data). See docs/data-lifecycle.md for the WAL.
      db.pragma('secure_delete = ON');
      // When a checkpoint resets the write-ahead log, cut it to nothing: otherwise frames older
      // than the reset (deleted rows among them) stay in the -wal file until overwritten.
      db.pragma('journal_size_limit = 0');
      migrate(db, log);
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  } catch (err) {
    throw translateSqliteError(err, `open ${file}`);
  }
}

/**
 * Copy the write-ahead log into the database and cut it to zero bytes, so the pages a delete
 * replaced (which still hold the deleted rows) leave the `-wal` file. Called after deletes of
 * personal data. It waits for no one: while another connection reads an older snapshot the log
 * cannot be cut, and the call returns false; the next delete, or SQLite's own checkpoint (which
 * `journal_size_limit = 0` makes truncate the log too), finishes the job.
 */
export function truncateWal(db: Database.Database): boolean {
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return row?.busy === 0;
  } catch {
    return false;
  } finally {
    // PRAGMA takes no bound parameters; the value is the connection's own integer.
    db.pragma(`busy_timeout = ${Math.floor(timeout)}`);
  }
}

/** Apply the migrations this database has not seen yet. */
export function migrate(db: Database.Database, log?: Logger): void {
  const apply = db.transaction(() => {
    const from = db.pragma('user_version', { simple: true }) as number;
    if (from > MIGRATIONS.length) {
      throw new StorePermanentError(
        `database schema version ${from} is newer than this build (${MIGRATIONS.length}); upgrade facefleet`,
      );
    }
    for (let v = from; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]);
    if (from < MIGRATIONS.length) {
      // PRAGMA takes no bound parameters; the value is our own integer.
      db.pragma(`user_version = ${MIGRATIONS.length}`);
      log?.info({ from, to: MIGRATIONS.length }, 'sqlite schema migrated');
    }
  });
  apply.immediate();
}

/**
 * Map a better-sqlite3 error onto the store errors. `context` names the operation for the
 * message. Busy/locked and I/O trouble are retryable; a uniqueness violation means the
 * record exists; anything else will not get better by retrying.
 */
export function translateSqliteError(err: unknown, context: string): FacefleetError {
  if (err instanceof FacefleetError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const message = `${context}: ${err instanceof Error ? err.message : String(err)}`;
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|INTERRUPT|NOMEM)/.test(code)) {
    return new StoreUnavailableError(message, { cause: err, details: { sqliteCode: code } });
  }
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new AlreadyExistsError(message, { cause: err, details: { sqliteCode: code } });
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new StoreUnavailableError(message, { cause: err });
  }
  return new StorePermanentError(message, { cause: err, details: code ? { sqliteCode: code } : undefined });
}

/**
 * Base for the SQLite adapters: holds the lease, runs each call with error translation, and
 * refuses calls after close.
 */
export abstract class SqliteAdapter {
  protected readonly db: Database.Database;
  private lease: SqliteLease | null;

  protected constructor(lease: SqliteLease) {
    this.lease = lease;
    this.db = lease.db;
  }

  /** False once closed. */
  protected get isOpen(): boolean {
    return this.lease !== null;
  }

  /** Run `fn` against the database, translating errors. */
  protected run<T>(context: string, fn: () => T): Promise<T> {
    if (!this.lease) return Promise.reject(new StoreUnavailableError(`${context}: store is closed`));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(translateSqliteError(err, context));
    }
  }

  /** Resolves while the database answers a trivial query. */
  ping(): Promise<void> {
    return this.run('ping', () => {
      this.db.prepare('SELECT 1').get();
    });
  }

  /** Release this adapter's lease on the shared connection. Idempotent. */
  close(): Promise<void> {
    this.lease?.release();
    this.lease = null;
    return Promise.resolve();
  }
}
