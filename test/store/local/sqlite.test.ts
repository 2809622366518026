import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDatabase, openLocalStores, translateSqliteError } from '../../../src/store/local/index.js';
import { MIGRATIONS } from '../../../src/store/local/schema.js';
import {
  AlreadyExistsError,
  StorePermanentError,
  StoreUnavailableError,
} from '../../../src/store/errors.js';
import { aJob } from '../../helpers/builders.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('the shared SQLite connection', () => {
  it('opens in WAL mode with a busy timeout and the schema migrated', () => {
    const lease = acquireDatabase(dir);
    try {
      expect(lease.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(lease.db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
      expect(lease.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      expect(lease.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    } finally {
      lease.release();
    }
  });

  it('is one connection per data dir, closed when the last lease is released', () => {
    const a = acquireDatabase(dir);
    const b = acquireDatabase(path.join(dir, '.'));
    expect(b.db).toBe(a.db);
    a.release();
    a.release(); // idempotent: must not close b's connection
    expect(b.db.open).toBe(true);
    b.release();
    expect(b.db.open).toBe(false);
    const c = acquireDatabase(dir);
    expect(c.db.open).toBe(true);
    c.release();
  });

  it('keeps data across reopen and does not migrate twice', () => {
    const a = acquireDatabase(dir);
    a.db.prepare("INSERT INTO counters (name, value) VALUES ('probe', 7)").run();
    a.release();
    const b = acquireDatabase(dir);
    try {
      expect(b.db.prepare("SELECT value FROM counters WHERE name = 'probe'").get()).toEqual({ value: 7 });
    } finally {
      b.release();
    }
  });

  it('reads faces stored before pipelines were recorded (schema 2) as the standard pipeline\'s', async () => {
    const raw = new Database(path.join(dir, 'facefleet.db'));
    for (const m of MIGRATIONS.slice(0, 2)) raw.exec(m);
    raw.pragma('user_version = 2');
    raw.prepare("INSERT INTO identities (name, created_at) VALUES ('ada', '2026-01-01T00:00:00.000Z')").run();
    raw.prepare("INSERT INTO faces (id, identity, descriptor, source, created_at) VALUES ('f1', 'ada', ?, 'old.jpg', '2026-01-01T00:00:00.000Z')").run(Buffer.alloc(128 * 4));
    raw.close();
    const stores = openLocalStores({ dataDir: dir });
    try {
      expect(await stores.gallery.listFaces()).toMatchObject([{ id: 'f1', identity: 'ada', source: 'old.jpg', pipeline: 'standard' }]);
      await stores.gallery.addFace('ada', { descriptor: new Float32Array(128), pipeline: 'dlib-ensemble' });
      expect((await stores.gallery.listFaces()).map((f) => f.pipeline)).toEqual(['standard', 'dlib-ensemble']);
    } finally {
      await stores.close();
    }
  });

  it('refuses a database from a newer build', () => {
    const raw = new Database(path.join(dir, 'facefleet.db'));
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => acquireDatabase(dir)).toThrow(StorePermanentError);
  });
});

describe('translateSqliteError', () => {
  const sqliteError = (code: string) => new Database.SqliteError(`failed: ${code}`, code);

  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL'])(
    'maps %s to StoreUnavailableError',
    (code) => {
      const err = translateSqliteError(sqliteError(code), 'op');
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(err.retryable).toBe(true);
      expect(err.cause).toBeInstanceOf(Database.SqliteError);
    },
  );

  it('maps uniqueness violations to AlreadyExistsError', () => {
    expect(translateSqliteError(sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY'), 'op')).toBeInstanceOf(AlreadyExistsError);
    expect(translateSqliteError(sqliteError('SQLITE_CONSTRAINT_UNIQUE'), 'op')).toBeInstanceOf(AlreadyExistsError);
  });

  it('maps anything else to StorePermanentError', () => {
    expect(translateSqliteError(sqliteError('SQLITE_CORRUPT'), 'op')).toBeInstanceOf(StorePermanentError);
    expect(translateSqliteError(new Error('odd'), 'op')).toBeInstanceOf(StorePermanentError);
  });

  it('turns a real lock held by another connection into StoreUnavailableError', () => {
    const lease = acquireDatabase(dir);
    const other = new Database(path.join(dir, 'facefleet.db'), { timeout: 0 });
    try {
      lease.db.exec('BEGIN IMMEDIATE');
      let caught: unknown;
      try {
        other.prepare("UPDATE counters SET value = value + 1 WHERE name = 'gallery'").run();
      } catch (err) {
        caught = err;
      }
      expect(translateSqliteError(caught, 'bump')).toBeInstanceOf(StoreUnavailableError);
    } finally {
      lease.db.exec('ROLLBACK');
      other.close();
      lease.release();
    }
  });
});

describe('openLocalStores', () => {
  it('opens every store on one data dir and closes them together', async () => {
    const stores = openLocalStores({ dataDir: dir, maxReceiveCount: 2 });
    const job = aJob();
    await stores.jobs.create(job);
    await stores.blobs.put(job.input.key, Buffer.from('img'));
    await stores.queue.send({ jobId: job.id });
    await stores.gallery.addFace('Ada', { descriptor: new Float32Array(128) });
    await Promise.all([stores.jobs.ping(), stores.queue.ping(), stores.gallery.ping(), stores.blobs.ping()]);
    expect((await fs.readdir(dir)).sort()).toEqual(expect.arrayContaining(['blobs', 'facefleet.db']));
    await stores.close();
    await stores.close();
    await expect(stores.jobs.get(job.id)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(stores.queue.depth()).rejects.toBeInstanceOf(StoreUnavailableError);

    const again = openLocalStores({ dataDir: dir });
    try {
      expect((await again.jobs.get(job.id))?.id).toBe(job.id);
      expect((await again.queue.depth()).visible).toBe(1);
      expect((await again.gallery.listIdentities()).map((i) => i.name)).toEqual(['Ada']);
      expect((await again.blobs.get(job.input.key)).toString()).toBe('img');
    } finally {
      await again.close();
    }
  });
});
