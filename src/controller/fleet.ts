/**
 * The Fleet port: the machines or processes that run workers. Local mode runs worker
 * child processes (`./local-fleet.ts`); AWS runs EC2 instances (`src/store/aws/ec2-fleet.ts`).
 */
export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped';

export interface Instance {
  /** Process id (`local-<pid>`) or EC2 instance id. */
  id: string;
  state: InstanceState;
  /** ISO time it was launched or last started. */
  launchedAt: string;
  /** The worker id it reports in the WorkerRegistry, when known. */
  workerId?: string;
  /** Asked to retire (or launched retiring): it leaves by itself once the queue is empty. */
  retiring?: boolean;
}

export interface LaunchOptions {
  /** How many of the new workers start retiring (see `retire`). A fleet may ignore it. */
  retire?: number;
}

/**
 * The exit code of a worker that retired (found the queue empty after a retire request). The
 * local fleet does not count it as a crash; on EC2 the worker's systemd unit powers the
 * instance off on it (see `src/aws/user-data.ts`).
 */
export const RETIRED_EXIT_CODE = 75;

export interface Fleet {
  /**
   * Seconds from launch to a ready worker that the scaler assumes until it has measured a boot
   * (it learns the real figure from its ticks). Absent: the scaler's default, EC2's ~30 s.
   */
  readonly typicalBootSeconds?: number;
  /** Every instance the fleet owns that is not terminated. */
  list(): Promise<Instance[]>;
  /** Start `count` more workers. Returns what was started (possibly fewer on partial failure). */
  launch(count: number, options?: LaunchOptions): Promise<Instance[]>;
  /** Stop these instances gracefully (SIGTERM / StopInstances or TerminateInstances). Unknown ids are ignored. */
  stop(ids: string[]): Promise<void>;
  /**
   * Optional: ask these instances' workers to finish the job in hand and whatever waits, then
   * exit at their first empty receive (the instance is then gone from `list()`). A fleet
   * without it leaves them running; the scaler stops them once a tick sees them idle.
   * Unknown ids are ignored.
   */
  retire?(ids: string[]): Promise<void>;
  /** Release resources; a local fleet stops its children. */
  close(): Promise<void>;
}
