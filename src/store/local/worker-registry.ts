import type { WorkerHeartbeat, WorkerRegistry } from '../ports.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

/** WorkerRegistry on SQLite: the latest heartbeat per worker id. */
export class SqliteWorkerRegistry extends SqliteAdapter implements WorkerRegistry {
  private readonly stmts;

  constructor(lease: SqliteLease) {
    super(lease);
    const db = this.db;
    this.stmts = {
      upsert: db.prepare<[string, string, string]>(
        `INSERT INTO workers (worker_id, at, beat) VALUES (?, ?, ?)
         ON CONFLICT (worker_id) DO UPDATE SET at = excluded.at, beat = excluded.beat`,
      ),
      list: db.prepare<[], { beat: string }>('SELECT beat FROM workers ORDER BY worker_id'),
      remove: db.prepare<[string]>('DELETE FROM workers WHERE worker_id = ?'),
    };
  }

  /** Replace the worker's last heartbeat. */
  heartbeat(beat: WorkerHeartbeat): Promise<void> {
    return this.run(`heartbeat of worker ${beat.workerId}`, () => {
      this.stmts.upsert.run(beat.workerId, beat.at, JSON.stringify(beat));
    });
  }

  /** The last heartbeat of every worker, by worker id. */
  list(): Promise<WorkerHeartbeat[]> {
    return this.run('list workers', () => this.stmts.list.all().map((r) => JSON.parse(r.beat) as WorkerHeartbeat));
  }

  /** Forget a worker; absent is fine. */
  remove(workerId: string): Promise<void> {
    return this.run(`remove worker ${workerId}`, () => {
      this.stmts.remove.run(workerId);
    });
  }
}
