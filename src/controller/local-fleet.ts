/**
 * The local Fleet: worker child processes on this machine.
 *
 * An instance is one child, id `local-<pid>`:
 * - `pending` from spawn until the child sends `{ type: 'ready' }` over IPC (the worker does
 *   once its model is loaded and it takes jobs);
 * - `running` after that;
 * - `stopping` once `stop()` sent SIGTERM (SIGKILL follows after `stopTimeoutMs`);
 * - gone from `list()` when it exited.
 * A child that exits while not stopping is a crash: it is logged and dropped from `list()`,
 * so the controller sees the capacity missing and replaces it on its next tick. `retire()`
 * sends `{ type: 'retire' }` over IPC: the worker finishes its job and what waits, then exits
 * with RETIRED_EXIT_CODE at its first empty receive, which is not a crash. `launch(n, { retire })`
 * starts that many children retiring (env `FACEFLEET_RETIRE=1`).
 *
 * Each child gets `FACEFLEET_WORKER_ID` so its registry heartbeats can be tied to it; the id
 * is known before the pid, so it is `local-<parent pid>-<n>`, reported as `Instance.workerId`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { parseWorkerMessage, type RetireMessage } from '../processes/ipc.js';
import { FleetUnavailableError } from './errors.js';
import { RETIRED_EXIT_CODE, type Fleet, type Instance, type LaunchOptions } from './fleet.js';

export interface LocalFleetOptions {
  /** Executable and arguments of one worker, e.g. `[process.execPath, cliPath, 'worker', '--data-dir', dir]`. */
  command: string[];
  /** Environment of the children. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** After SIGTERM, how long a worker may take before SIGKILL, ms. Default 35 000. */
  stopTimeoutMs?: number;
  /** A child not ready after this long is killed and dropped, ms. Default 300 000. */
  readyTimeoutMs?: number;
  /** A worker reported a job it finished (`{ type: 'job-settled', jobId }` over IPC); `up` wakes its long-polls with it. */
  onJobSettled?: (jobId: string) => void;
}

interface Child {
  instance: Instance;
  /** Asked to retire: a clean exit is expected, not a crash. */
  retiring: boolean;
  process: ChildProcess;
  exited: Promise<void>;
  timers: NodeJS.Timeout[];
}

export interface LocalFleet extends Fleet {
  /** A child process starts in well under a second; loading the model takes a few more. */
  readonly typicalBootSeconds: number;
  /** Children that exited without being asked to, since the fleet was created. */
  crashes(): number;
  /** Ask these children over IPC to exit once the queue is empty (see the module comment). */
  retire(ids: string[]): Promise<void>;
}

export function createLocalFleet(options: LocalFleetOptions): LocalFleet {
  const [file, ...args] = options.command;
  if (!file) throw new FleetUnavailableError('local fleet: empty worker command');
  const stopTimeoutMs = options.stopTimeoutMs ?? 35_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 300_000;
  const log = options.log.child({ component: 'local-fleet' });
  const children = new Map<string, Child>();
  let seq = 0;
  let crashes = 0;
  let closed = false;

  function terminate(child: Child, reason: string): void {
    if (child.instance.state === 'stopping') return;
    child.instance.state = 'stopping';
    log.info({ instanceId: child.instance.id, reason }, 'stopping worker');
    child.process.kill('SIGTERM');
    const kill = setTimeout(() => {
      log.warn({ instanceId: child.instance.id, stopTimeoutMs }, 'worker did not stop in time; killing it');
      child.process.kill('SIGKILL');
    }, stopTimeoutMs);
    kill.unref();
    child.timers.push(kill);
  }

  async function spawnOne(retiring: boolean): Promise<Instance> {
    const workerId = `local-${process.pid}-${++seq}`;
    const proc = spawn(file!, args, {
      env: { ...(options.env ?? process.env), FACEFLEET_WORKER_ID: workerId, ...(retiring ? { FACEFLEET_RETIRE: '1' } : {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // A spawn that fails (no such file, no permission) reports through 'error' with no pid.
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', reject);
    });
    const instance: Instance = { id: `local-${proc.pid}`, state: 'pending', launchedAt: new Date().toISOString(), workerId, ...(retiring ? { retiring } : {}) };
    const child: Child = {
      instance,
      process: proc,
      retiring,
      timers: [],
      exited: new Promise<void>((resolve) => {
        proc.once('exit', (code, signal) => {
          for (const t of child.timers) clearTimeout(t);
          children.delete(instance.id);
          if (instance.state === 'stopping') {
            log.info({ instanceId: instance.id, code, signal }, 'worker stopped');
          } else if (child.retiring && code === RETIRED_EXIT_CODE) {
            log.info({ instanceId: instance.id, workerId: instance.workerId }, 'worker retired: the queue was empty');
          } else {
            crashes++;
            log.warn({ instanceId: instance.id, workerId, code, signal, was: instance.state }, 'worker exited unexpectedly; the controller will replace it');
          }
          resolve();
        });
      }),
    };
    proc.on('error', (err) => log.warn({ instanceId: instance.id, err: err.message }, 'worker process error'));
    proc.on('message', (raw: unknown) => {
      const message = parseWorkerMessage(raw);
      if (message?.type === 'job-settled') {
        options.onJobSettled?.(message.jobId);
        return;
      }
      if (message?.type !== 'ready') return;
      if (message.workerId.length > 0) instance.workerId = message.workerId;
      if (instance.state === 'pending') {
        instance.state = 'running';
        log.info({ instanceId: instance.id, workerId: instance.workerId }, 'worker ready');
      }
    });
    const readyTimer = setTimeout(() => {
      if (instance.state === 'pending') terminate(child, `not ready after ${readyTimeoutMs} ms`);
    }, readyTimeoutMs);
    readyTimer.unref();
    child.timers.push(readyTimer);
    children.set(instance.id, child);
    log.info({ instanceId: instance.id, workerId }, 'worker spawned');
    return { ...instance };
  }

  return {
    async list() {
      return [...children.values()].map((c) => ({ ...c.instance }));
    },
    async launch(count, launchOptions?: LaunchOptions) {
      if (closed) throw new FleetUnavailableError('local fleet is closed');
      const started: Instance[] = [];
      let lastError: unknown;
      for (let i = 0; i < count; i++) {
        try {
          started.push(await spawnOne(i < (launchOptions?.retire ?? 0)));
        } catch (err) {
          lastError = err;
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not spawn a worker');
        }
      }
      if (count > 0 && started.length === 0) {
        throw new FleetUnavailableError(`could not spawn any of ${count} workers`, { cause: lastError });
      }
      return started;
    },
    async stop(ids) {
      for (const id of ids) {
        const child = children.get(id);
        if (child) terminate(child, 'asked to stop');
      }
    },
    async retire(ids) {
      for (const id of ids) {
        const child = children.get(id);
        if (!child || child.retiring || child.instance.state === 'stopping' || !child.process.connected) continue;
        child.retiring = true;
        child.instance.retiring = true;
        child.process.send({ type: 'retire' } satisfies RetireMessage, (err) => {
          if (err) log.warn({ instanceId: id, err: err.message }, 'could not ask the worker to retire; it is stopped once idle');
        });
        log.info({ instanceId: id }, 'asked worker to retire once the queue is empty');
      }
    },
    async close() {
      closed = true;
      const all = [...children.values()];
      for (const child of all) terminate(child, 'fleet closing');
      await Promise.all(all.map((c) => c.exited));
    },
    typicalBootSeconds: 5,
    crashes: () => crashes,
  };
}
