/**
 * The controller loop: every `intervalSeconds`, observe the queue depth, the fleet and the
 * workers' heartbeats; feed them to the scaler machine as a `TICK`; store the next snapshot
 * (in memory); then run the `launch` / `stop` actions it returned against the fleet.
 *
 * Every call to the outside (queue, registry, fleet) goes through one circuit breaker. While
 * it is open the tick fails fast and the controller holds the fleet as it is: no launches, no
 * stops. A launch that fell short or failed needs no bookkeeping: the next tick sees the
 * fleet as it really is and asks for the difference again.
 */
import type { Config } from '../config.js';
import { errorInfo, type ErrorInfo } from '../errors.js';
import type { Logger } from '../log.js';
import type { BreakerState } from '../machines/breaker.js';
import {
  initialScaler,
  scalerState,
  stepScaler,
  type ScalerAction,
  type ScalerPolicy,
  type ScalerSnapshot,
  type ScalerState,
} from '../machines/scaler.js';
import type { JobQueue, QueueDepth, WorkerRegistry } from '../store/ports.js';
import { createBreaker, type Breaker } from './breaker.js';
import type { Fleet, Instance } from './fleet.js';
import { DEFAULT_SILENT_AFTER_SECONDS, silentInstances } from './silent-workers.js';
import type { ControllerMetrics } from './metrics.js';

export interface ControllerOptions {
  fleet: Fleet;
  queue: Pick<JobQueue, 'depth'>;
  /** `retire` is used to reach workers whose fleet cannot retire them itself (EC2). */
  registry: Pick<WorkerRegistry, 'list'> & Partial<Pick<WorkerRegistry, 'retire'>>;
  /**
   * Bounds and timing from `Config['fleet']` (min/max workers, idle seconds, interval), plus
   * optional scaler knobs, e.g. `policy: { targetUtilization: 0.6 }`. The boot time assumed first comes from `fleet.typicalBootSeconds`.
   */
  config: Pick<Config['fleet'], 'minWorkers' | 'maxWorkers' | 'idleSeconds' | 'intervalSeconds'> & {
    policy?: Partial<ScalerPolicy>;
    /** A running worker silent this long is replaced (see silent-workers.ts). Default 45. */
    silentAfterSeconds?: number;
  };
  log: Logger;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /**
   * Guards every call. Default: `controller`, opens after 5 failures in a row or half of the
   * last 10 calls failing, 30 s cool-down.
   */
  breaker?: Breaker;
  metrics?: ControllerMetrics;
}

/** What `facefleet status` shows about the controller. */
export interface ControllerStatus {
  scalerState: ScalerState;
  desired: number;
  running: number;
  pending: number;
  busy: number;
  idle: number;
  /** The queue as the last successful tick saw it; null before the first one. */
  depth: QueueDepth | null;
  breaker: BreakerState;
  /** Why the last tick failed or held; absent when it went through. */
  lastError?: ErrorInfo;
  /** ISO time of the last tick, successful or not. */
  lastTickAt?: string;
}

export interface Controller {
  /** Run one tick now (or join the one in progress). Never rejects: failures land in `lastError`. */
  tick(): Promise<ControllerStatus>;
  /** Tick now and then every `intervalSeconds` until `stop()`. */
  start(): void;
  /** Stop ticking and wait for a tick in progress. The fleet is left as it is. */
  stop(): Promise<void>;
  status(): ControllerStatus;
}

export function createController(options: ControllerOptions): Controller {
  const { fleet, queue, registry, config, metrics } = options;
  const now = options.now ?? Date.now;
  const log = options.log.child({ component: 'controller' });
  const breaker =
    options.breaker ??
    createBreaker({ name: 'controller', failureThreshold: 5, failureRateThreshold: 0.5, windowSize: 10, cooldownMs: 30_000, now, log });
  // A fleet may say how long its instances typically take to boot (the local fleet does);
  // otherwise the scaler assumes EC2's ~30 s until it has measured a boot.
  const hint = fleet.typicalBootSeconds;
  let snapshot: ScalerSnapshot = initialScaler({
    // Scale-in is held for two ticks after a stop, so a fleet listing that still shows the
    // stopped instances cannot trigger a second stop of the same capacity.
    cooldownSeconds: 2 * config.intervalSeconds,
    ...(typeof hint === 'number' && hint > 0 ? { defaultBootSeconds: hint } : {}),
    ...config.policy,
    minWorkers: config.minWorkers,
    maxWorkers: config.maxWorkers,
    idleSeconds: config.idleSeconds,
  });
  let depth: QueueDepth | null = null;
  let lastError: ErrorInfo | undefined;
  let lastTickAt: string | undefined;
  let inProgress: Promise<ControllerStatus> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  metrics?.observeBreaker(breaker.name, breaker.state());
  breaker.onChange((state) => metrics?.observeBreaker(breaker.name, state));

  function status(): ControllerStatus {
    const last = snapshot.context.last;
    return {
      scalerState: scalerState(snapshot),
      desired: snapshot.context.desired,
      running: last.running,
      pending: last.pending,
      busy: last.busy,
      idle: last.idle,
      depth,
      breaker: breaker.state(),
      ...(lastError ? { lastError } : {}),
      ...(lastTickAt ? { lastTickAt } : {}),
    };
  }

  async function execute(action: ScalerAction, instances: Instance[]): Promise<void> {
    if (action.type === 'launch') {
      const { count, retire } = action.params;
      const started = await breaker.call(() => fleet.launch(count, retire ? { retire } : undefined));
      metrics?.countAction('launch', started.length);
      const fields = { asked: count, started: started.map((i) => i.id), ...(retire ? { retiring: retire } : {}) };
      if (started.length < count) log.warn(fields, 'launched fewer workers than asked; the next tick asks again');
      else log.info(fields, 'launched workers');
    } else if (action.type === 'stop') {
      await breaker.call(() => fleet.stop(action.params.ids));
      metrics?.countAction('stop', action.params.ids.length);
      log.info({ ids: action.params.ids }, 'stopped idle workers');
    } else if (fleet.retire) {
      const retire = fleet.retire.bind(fleet);
      await breaker.call(() => retire(action.params.ids));
      metrics?.countAction('retire', action.params.ids.length);
      log.info({ ids: action.params.ids }, 'retiring busy workers: each exits once the queue is empty');
    } else if (registry.retire) {
      // The worker hears it at its next heartbeat (it beats after every job).
      const retire = registry.retire.bind(registry);
      const at = new Date(now()).toISOString();
      for (const id of action.params.ids) {
        const workerId = instances.find((i) => i.id === id)?.workerId ?? id;
        await breaker.call(() => retire(workerId, at));
      }
      metrics?.countAction('retire', action.params.ids.length);
      log.info({ ids: action.params.ids }, 'asked busy workers through the registry to retire once the queue is empty');
    } else {
      log.debug({ ids: action.params.ids }, 'this fleet cannot retire workers; they are stopped once idle');
    }
  }

  async function runTick(): Promise<ControllerStatus> {
    const at = now();
    lastTickAt = new Date(at).toISOString();
    try {
      // One after the other: in half-open only the first call is let through as the probe.
      // The fleet goes first so that a failing cloud API fails every tick at its first call
      // and its failures add up, rather than being reset by a healthy queue in between.
      const listed = await breaker.call(() => fleet.list());
      const observedDepth = await breaker.call(() => queue.depth());
      const workers = await breaker.call(() => registry.list());
      // Up but not reporting: stop it, and let the scaler see the capacity missing this tick.
      const silent = silentInstances(listed, workers, at, (config.silentAfterSeconds ?? DEFAULT_SILENT_AFTER_SECONDS) * 1000);
      if (silent.length > 0) {
        log.warn({ ids: silent.map((i) => i.id) }, 'workers running but not heartbeating; replacing them');
        await breaker.call(() => fleet.stop(silent.map((i) => i.id)));
      }
      const instances = silent.length > 0 ? listed.filter((i) => !silent.includes(i)) : listed;
      depth = observedDepth;
      const before = scalerState(snapshot);
      const step = stepScaler(snapshot, { at, depth: observedDepth, instances, workers });
      // The snapshot is stored before any effect runs.
      snapshot = step.snapshot;
      const after = scalerState(snapshot);
      if (after !== before) {
        log.info({ from: before, to: after, desired: snapshot.context.desired, ...snapshot.context.last }, `scaler ${after}`);
      }
      lastError = undefined;
      for (const action of step.actions) await execute(action, instances);
    } catch (err) {
      lastError = errorInfo(err);
      // An open breaker already logged when it opened; repeating that every tick is noise.
      if (lastError.code === 'circuit-open') log.debug({ err: lastError }, 'breaker open: holding the fleet');
      else log.warn({ err: lastError }, 'controller tick failed; holding the fleet');
    }
    const current = status();
    metrics?.observeTick(current);
    return current;
  }

  function tick(): Promise<ControllerStatus> {
    inProgress ??= runTick().finally(() => {
      inProgress = undefined;
    });
    return inProgress;
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      void tick().then(schedule);
    }, config.intervalSeconds * 1000);
  }

  return {
    tick,
    start() {
      if (running) return;
      running = true;
      log.info({ minWorkers: config.minWorkers, maxWorkers: config.maxWorkers, intervalSeconds: config.intervalSeconds }, 'controller started');
      void tick().then(schedule);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inProgress;
    },
    status,
  };
}
