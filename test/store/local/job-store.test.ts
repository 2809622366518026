/**
 * SqliteJobStore's group commit: the creates (and intake accepts) of one event-loop turn go into one transaction,
 * each in its own savepoint, and each caller learns its own outcome only after the commit.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteJobQueue, SqliteJobStore, acquireDatabase, type SqliteLease } from '../../../src/store/local/index.js';
import { AlreadyExistsError, StorePermanentError, StoreUnavailableError } from '../../../src/store/errors.js';
import type { JobRecord } from '../../../src/jobs/types.js';
import { makeJobRecord } from '../../helpers/jobs.js';

let dir: string;
let lease: SqliteLease;
let jobs: SqliteJobStore;
let queue: SqliteJobQueue;
/** A second connection to the same file, as another process would see it. */
let other: Database.Database;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
  lease = acquireDatabase(dir);
  jobs = new SqliteJobStore(acquireDatabase(dir));
  queue = new SqliteJobQueue(acquireDatabase(dir));
  other = new Database(lease.file, { readonly: true });
});

afterEach(async () => {
  other.close();
  await jobs.close();
  await queue.close();
  lease.release();
  await fs.rm(dir, { recursive: true, force: true });
});

const count = (table: string) => (other.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const ids = (table: string, column: string) => (other.prepare(`SELECT ${column} AS id FROM ${table} ORDER BY 1`).all() as { id: string }[]).map((r) => r.id);
/** A new job through the intake of these stores: its record and one message, in one transaction. */
const acceptOne = (record: JobRecord) => jobs.intakeWith(queue).accept({ record, messages: [{ jobId: record.id }] });

/** Frames in the WAL: each commit appends the pages it changed, so fewer commits write fewer frames. */
function walFrames(): number {
  const [row] = lease.db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
  return row.log;
}

describe('SqliteJobStore group commit', () => {
  it('settles each create only after its commit, visible to other connections by then', async () => {
    const records = [1, 2, 3].map((n) => makeJobRecord({ id: `job-${n}` }));
    const settled: string[] = [];
    const all = records.map((r) => acceptOne(r).then(() => settled.push(r.id)));
    // Nothing is written, and nothing has resolved, within the turn that asked.
    expect(count('jobs')).toBe(0);
    await Promise.resolve();
    expect(settled).toEqual([]);
    await Promise.all(all);
    expect(ids('jobs', 'id')).toEqual(['job-1', 'job-2', 'job-3']);
    expect(ids('queue_messages', 'job_id')).toEqual(['job-1', 'job-2', 'job-3']);
  });

  it('gives each create its own error: a duplicate id fails alone, the others commit', async () => {
    await jobs.create(makeJobRecord({ id: 'job-old' }));
    const results = await Promise.allSettled([
      acceptOne(makeJobRecord({ id: 'job-a' })),
      acceptOne(makeJobRecord({ id: 'job-old' })),
      acceptOne(makeJobRecord({ id: 'job-b' })),
      acceptOne(makeJobRecord({ id: 'job-b' })),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(AlreadyExistsError);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(AlreadyExistsError);
    expect(ids('jobs', 'id')).toEqual(['job-a', 'job-b', 'job-old']);
    // The failed creates sent nothing: one message each for a and b.
    expect(ids('queue_messages', 'job_id')).toEqual(['job-a', 'job-b']);
  });

  it('rolls back a create whose message fails after its record was written, and only it', async () => {
    // A temporary trigger on the store's own connection refuses one job's message.
    lease.db.exec(`CREATE TEMP TRIGGER refuse_send BEFORE INSERT ON queue_messages WHEN NEW.job_id = 'job-bad'
                   BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const results = await Promise.allSettled(['job-1', 'job-bad', 'job-2'].map((id) => acceptOne(makeJobRecord({ id }))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(StorePermanentError);
    expect(err.message).toMatch(/create job job-bad.*refused/);
    // Its record went with its message; its neighbours kept theirs.
    expect(ids('jobs', 'id')).toEqual(['job-1', 'job-2']);
    expect(ids('queue_messages', 'job_id')).toEqual(['job-1', 'job-2']);
  });

  it('fails every create of a batch whose transaction cannot start, and writes none', async () => {
    // Another connection holds the write lock: the batch's BEGIN ... INSERT gets SQLITE_BUSY.
    const writer = new Database(lease.file, { timeout: 0 });
    lease.db.pragma('busy_timeout = 0');
    writer.exec('BEGIN IMMEDIATE');
    try {
      const results = await Promise.allSettled(['job-1', 'job-2'].map((id) => acceptOne(makeJobRecord({ id }))));
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      }
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
      lease.db.pragma('busy_timeout = 5000');
    }
    expect(count('jobs')).toBe(0);
    expect(count('queue_messages')).toBe(0);
    // The store works again once the lock is free.
    await acceptOne(makeJobRecord({ id: 'job-3' }));
    expect(ids('jobs', 'id')).toEqual(['job-3']);
  });

  it('writes the creates of one turn in one commit: far fewer WAL frames than one commit each', async () => {
    lease.db.pragma('wal_checkpoint(TRUNCATE)');
    await Promise.all(Array.from({ length: 20 }, (_, n) => acceptOne(makeJobRecord({ id: `job-g${n}` }))));
    const grouped = walFrames();
    lease.db.pragma('wal_checkpoint(TRUNCATE)');
    for (let n = 0; n < 20; n++) await acceptOne(makeJobRecord({ id: `job-s${n}` }));
    const separate = walFrames();
    expect(count('jobs')).toBe(40);
    expect(grouped * 4).toBeLessThan(separate);
  });

  it('commits creates still pending when the store closes, and refuses new ones after', async () => {
    const pending = acceptOne(makeJobRecord({ id: 'job-last' }));
    await jobs.close();
    await expect(pending).resolves.toBeUndefined();
    expect(ids('jobs', 'id')).toEqual(['job-last']);
    await expect(jobs.create(makeJobRecord({ id: 'job-late' }))).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('SqliteJobStore.versions', () => {
  it('gives the current version of each existing job in one call, and leaves out missing ids', async () => {
    const a = makeJobRecord({ id: 'va' }), b = makeJobRecord({ id: 'vb' });
    await Promise.all([jobs.create(a), jobs.create(b)]);
    await jobs.save({ ...(await jobs.get('vb'))!, state: 'queued' }, 0);
    const got = await jobs.versions(['va', 'vb', 'missing', 'va']);
    expect([...got.entries()].sort()).toEqual([['va', 0], ['vb', 1]]);
    expect((await jobs.versions([])).size).toBe(0);
    // Ids are data, not SQL.
    expect((await jobs.versions(["va' OR '1'='1", '"]'])).size).toBe(0);
  });
});
