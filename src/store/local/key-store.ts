import type { ApiKeyRecord, KeyStore } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

/** KeyStore on SQLite: one JSON record per key id. */
export class SqliteKeyStore extends SqliteAdapter implements KeyStore {
  private readonly stmts;

  constructor(lease: SqliteLease) {
    super(lease);
    const db = this.db;
    this.stmts = {
      insert: db.prepare<[string, string, string]>('INSERT INTO api_keys (id, created_at, record) VALUES (?, ?, ?)'),
      get: db.prepare<[string], { record: string }>('SELECT record FROM api_keys WHERE id = ?'),
      list: db.prepare<[], { record: string }>('SELECT record FROM api_keys ORDER BY created_at, id'),
      update: db.prepare<[string, string]>('UPDATE api_keys SET record = ? WHERE id = ?'),
    };
  }

  create(record: ApiKeyRecord): Promise<void> {
    return this.run(`create api key ${record.id}`, () => {
      try {
        this.stmts.insert.run(record.id, record.createdAt, JSON.stringify(record));
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
          throw new AlreadyExistsError(`api key ${record.id} already exists`, { cause: err });
        }
        throw err;
      }
    });
  }

  get(id: string): Promise<ApiKeyRecord | null> {
    return this.run(`get api key ${id}`, () => {
      const row = this.stmts.get.get(id);
      return row ? (JSON.parse(row.record) as ApiKeyRecord) : null;
    });
  }

  /** Every key, oldest first. */
  list(): Promise<ApiKeyRecord[]> {
    return this.run('list api keys', () => this.stmts.list.all().map((r) => JSON.parse(r.record) as ApiKeyRecord));
  }

  /** Mark revoked at `at`; a key already revoked keeps its first revocation time. */
  revoke(id: string, at: string): Promise<boolean> {
    return this.run(`revoke api key ${id}`, () =>
      this.db.transaction(() => {
        const row = this.stmts.get.get(id);
        if (!row) return false;
        const record = JSON.parse(row.record) as ApiKeyRecord;
        if (!record.revokedAt) this.stmts.update.run(JSON.stringify({ ...record, revokedAt: at }), id);
        return true;
      }).immediate(),
    );
  }
}
