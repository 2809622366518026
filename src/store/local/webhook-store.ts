import type { WebhookDisabled, WebhookEndpoint, WebhookStore } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

/** WebhookStore on SQLite: one JSON record per endpoint, keyed by collection and id. */
export class SqliteWebhookStore extends SqliteAdapter implements WebhookStore {
  private readonly stmts;
  private readonly setTx;

  constructor(lease: SqliteLease) {
    super(lease);
    const db = this.db;
    this.stmts = {
      insert: db.prepare<[string, string, string, string]>('INSERT INTO webhook_endpoints (collection, id, created_at, record) VALUES (?, ?, ?, ?)'),
      get: db.prepare<[string, string], { record: string }>('SELECT record FROM webhook_endpoints WHERE collection = ? AND id = ?'),
      list: db.prepare<[string], { record: string }>('SELECT record FROM webhook_endpoints WHERE collection = ? ORDER BY created_at, id'),
      delete: db.prepare<[string, string]>('DELETE FROM webhook_endpoints WHERE collection = ? AND id = ?'),
      update: db.prepare<[string, string, string]>('UPDATE webhook_endpoints SET record = ? WHERE collection = ? AND id = ?'),
    };
    this.setTx = db.transaction((collection: string, id: string, disabled: WebhookDisabled | null): WebhookEndpoint | null => {
      const row = this.stmts.get.get(collection, id);
      if (!row) return null;
      const { disabled: _old, ...rest } = JSON.parse(row.record) as WebhookEndpoint;
      const next: WebhookEndpoint = disabled ? { ...rest, disabled } : rest;
      this.stmts.update.run(JSON.stringify(next), collection, id);
      return next;
    });
  }

  create(endpoint: WebhookEndpoint): Promise<void> {
    return this.run(`create webhook ${endpoint.id}`, () => {
      try {
        this.stmts.insert.run(endpoint.collection, endpoint.id, endpoint.createdAt, JSON.stringify(endpoint));
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw new AlreadyExistsError(`webhook ${endpoint.id} already exists`, { cause: err });
        throw err;
      }
    });
  }

  get(collection: string, id: string): Promise<WebhookEndpoint | null> {
    return this.run(`get webhook ${id}`, () => {
      const row = this.stmts.get.get(collection, id);
      return row ? (JSON.parse(row.record) as WebhookEndpoint) : null;
    });
  }

  list(collection: string): Promise<WebhookEndpoint[]> {
    return this.run(`list webhooks of ${collection}`, () => this.stmts.list.all(collection).map((r) => JSON.parse(r.record) as WebhookEndpoint));
  }

  delete(collection: string, id: string): Promise<boolean> {
    return this.run(`delete webhook ${id}`, () => this.stmts.delete.run(collection, id).changes > 0);
  }

  setDisabled(collection: string, id: string, disabled: WebhookDisabled | null): Promise<WebhookEndpoint | null> {
    return this.run(`${disabled ? 'disable' : 'enable'} webhook ${id}`, () => this.setTx.immediate(collection, id, disabled));
  }
}
