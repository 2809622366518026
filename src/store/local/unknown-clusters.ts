import type Database from 'better-sqlite3';
import type { UnknownCluster, UnknownClusterStore } from '../ports.js';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../errors.js';
import { decodeCluster, encodeCluster } from '../unknown-record.js';
import { scrubbed } from './collection-gallery.js';

interface ClusterRow {
  version: number;
  descriptors: Buffer;
  record: string;
}

export function prepareUnknownStatements(db: Database.Database) {
  return {
    exists: db.prepare<[string], { name: string }>('SELECT name FROM collections WHERE name = ?'),
    insert: db.prepare<[string, string, number, string, Buffer, string]>(
      'INSERT INTO unknown_clusters (collection, id, version, first_seen, descriptors, record) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    get: db.prepare<[string, string], ClusterRow>('SELECT version, descriptors, record FROM unknown_clusters WHERE collection = ? AND id = ?'),
    update: db.prepare<[number, string, Buffer, string, string, string, number]>(
      'UPDATE unknown_clusters SET version = ?, first_seen = ?, descriptors = ?, record = ? WHERE collection = ? AND id = ? AND version = ?',
    ),
    delete: db.prepare<[string, string]>('DELETE FROM unknown_clusters WHERE collection = ? AND id = ?'),
    deleteAll: db.prepare<[string]>('DELETE FROM unknown_clusters WHERE collection = ?'),
    list: db.prepare<[string], ClusterRow>('SELECT version, descriptors, record FROM unknown_clusters WHERE collection = ? ORDER BY first_seen, id'),
  };
}

export type UnknownStatements = ReturnType<typeof prepareUnknownStatements>;

/** One collection's unknown clusters on SQLite: one row each, saved on condition of its version. */
export class SqliteUnknownClusters implements UnknownClusterStore {
  constructor(
    readonly collection: string,
    private readonly db: Database.Database,
    private readonly stmts: UnknownStatements,
    private readonly run: <T>(what: string, fn: () => T) => Promise<T>,
  ) {}

  create(cluster: UnknownCluster): Promise<UnknownCluster> {
    return this.run(`create unknown cluster ${cluster.id}`, () => {
      if (!this.stmts.exists.get(this.collection)) throw new NotFoundError(`collection ${this.collection} does not exist`);
      const { descriptors, body } = encodeCluster(cluster);
      try {
        this.stmts.insert.run(this.collection, cluster.id, 1, cluster.firstSeen, descriptors, body);
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw new AlreadyExistsError(`unknown cluster ${cluster.id} already exists`, { cause: err });
        throw err;
      }
      return { ...cluster, version: 1 };
    });
  }

  get(id: string): Promise<UnknownCluster | null> {
    return this.run(`get unknown cluster ${id}`, () => {
      const row = this.stmts.get.get(this.collection, id);
      return row ? toCluster(row) : null;
    });
  }

  save(cluster: UnknownCluster, expectedVersion: number): Promise<UnknownCluster> {
    return this.run(`save unknown cluster ${cluster.id}`, () => {
      const { descriptors, body } = encodeCluster(cluster);
      const dropped = this.db.transaction((): boolean => {
        const current = this.stmts.get.get(this.collection, cluster.id);
        if (!current) throw new NotFoundError(`unknown cluster ${cluster.id} does not exist`);
        if (current.version !== expectedVersion) throw new VersionConflictError(`unknown cluster ${cluster.id} is at version ${current.version}, not ${expectedVersion}`);
        this.stmts.update.run(expectedVersion + 1, cluster.firstSeen, descriptors, body, this.collection, cluster.id, expectedVersion);
        const kept = new Set(cluster.representatives.map((r) => r.id));
        return (JSON.parse(current.record) as { representatives: Array<{ id: string }> }).representatives.some((r) => !kept.has(r.id));
      }).immediate();
      // A save that drops representatives must take their bytes out of the log, as a delete does.
      scrubbed(this.db, dropped);
      return { ...cluster, version: expectedVersion + 1 };
    });
  }

  delete(id: string): Promise<boolean> {
    return this.run(`delete unknown cluster ${id}`, () => scrubbed(this.db, this.stmts.delete.run(this.collection, id).changes > 0));
  }

  list(): Promise<UnknownCluster[]> {
    return this.run('list unknown clusters', () => this.stmts.list.all(this.collection).map(toCluster));
  }
}

function toCluster(row: ClusterRow): UnknownCluster {
  return decodeCluster({ descriptors: row.descriptors, body: row.record }, row.version);
}
