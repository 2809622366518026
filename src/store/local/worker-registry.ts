import type { HeartbeatReply, WorkerHeartbeat, WorkerRegistry } from '../ports.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

/** WorkerRegistry on SQLite: the latest heartbeat per worker id. */
export class SqliteWorkerRegistry extends SqliteAdapter implements WorkerRegistry {
  private readonly stmts;

  constructor(lease: SqliteLease) {
    super(lease);
    const db = this.db;
    this.stmts = {
      upsert: db.prepare<[string, string, string], { retire_at: string | null }>(
        `INSERT INTO workers (worker_id, at, beat) VALUES (?, ?, ?)
         ON CONFLICT (worker_id) DO UPDATE SET at = excluded.at, beat = excluded.beat
         RETURNING retire_at`,
      ),
      retire: db.prepare<[string, string]>('UPDATE workers SET retire_at = ? WHERE worker_id = ?'),
      list: db.prepare<[], { beat: string }>('SELECT beat FROM workers ORDER BY worker_id'),
      remove: db.prepare<[string]>('DELETE FROM workers WHERE worker_id = ?'),
    };
  }

  /** Replace the worker's last heartbeat; a retire request survives it and is reported. */
  heartbeat(beat: WorkerHeartbeat): Promise<HeartbeatReply> {
    return this.run(`heartbeat of worker ${beat.workerId}`, () => {
      const row = this.stmts.upsert.get(beat.workerId, beat.at, JSON.stringify(beat));
      return { retire: typeof row?.retire_at === 'string' };
    });
  }

  /** Mark a registered worker to retire; an unknown id changes nothing. */
  retire(workerId: string, at: string): Promise<void> {
    return this.run(`retire worker ${workerId}`, () => {
      this.stmts.retire.run(at, workerId);
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
