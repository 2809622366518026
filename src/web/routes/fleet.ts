import type { Express } from 'express';
import type { Registry } from 'prom-client';
import { errorInfo } from '../../errors.js';
import type { WorkerHeartbeat } from '../../store/ports.js';
import type { RouteContext } from '../route-context.js';

/** What `GET /v1/fleet` answers: one sample of the queue, the workers and the controller. */
export interface FleetStatus {
  at: string;
  queue: { visible: number; inFlight: number; delayed: number; deadLetters: number } | null;
  jobs: Record<string, number> | null;
  /** Workers with a recent heartbeat; null when this web tier cannot see the worker registry. */
  workers: { busy: number; idle: number; items: Array<{ workerId: string; busy: boolean; jobId?: string; at: string; jobsDone: number }> } | null;
  /** The controller's view, when it runs in this process (`facefleet up`); null otherwise. */
  controller: { scaler: string | null; desired: number | null; running: number | null; pending: number | null } | null;
  /** Circuit breakers by name: the web tier's store breaker, and the controller's when present. */
  breakers: Record<string, string>;
  /** Parts that could not be read this time, with why. */
  errors: Record<string, string>;
}

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

function gauge(metrics: MetricJson[], name: string): number | null {
  const m = metrics.find((x) => x.name === name);
  const v = m?.values[0]?.value;
  return typeof v === 'number' ? v : null;
}

/** The label `key` of the sample set to 1 (the "current state" gauges), per `group` label. */
function current(metrics: MetricJson[], name: string, key: string, group?: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of metrics.find((x) => x.name === name)?.values ?? []) {
    if (v.value === 1) out.set(group ? String(v.labels[group]) : '', String(v.labels[key]));
  }
  return out;
}

async function settle<T>(name: string, errors: Record<string, string>, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    const info = errorInfo(err);
    errors[name] = `${info.code}: ${info.message}`;
    return null;
  }
}

/**
 * `GET /v1/fleet` (operator): the fleet page's live numbers, read fresh on each call. The
 * console polls it once a second and keeps the last ten minutes itself.
 */
export function registerFleetRoutes(app: Express, rc: RouteContext): void {
  const { queue, jobs, registry, config } = rc.deps;
  // A worker beats every heartbeat interval while it runs; one silent for four is gone.
  const freshMs = Math.max(10, 4 * config.worker.heartbeatSeconds) * 1000;

  app.get('/v1/fleet', rc.auth.requireRole('operator'), rc.rateLimit, async (_req, res) => {
    const errors: Record<string, string> = {};
    const now = Date.now();
    const [depth, dead, counts, beats, extra] = await Promise.all([
      settle('queue', errors, () => rc.guard(() => queue.depth())),
      settle('deadLetters', errors, () => rc.guard(() => queue.deadLetterDepth())),
      settle('jobs', errors, () => rc.guard(() => jobs.countByState())),
      registry ? settle('workers', errors, () => rc.guard(() => registry.list())) : Promise.resolve(null),
      settle('controller', errors, async () => (await Promise.all((rc.deps.extraMetrics ?? []).map((r) => r.getMetricsAsJSON()))).flat()),
    ]);
    const live = (beats ?? []).filter((b: WorkerHeartbeat) => now - Date.parse(b.at) <= freshMs);
    const metrics = extra ?? [];
    const scaler = current(metrics, 'facefleet_scaler_state', 'state').get('') ?? null;
    const hasController = metrics.some((m) => m.name === 'facefleet_scaler_state');
    const breakers: Record<string, string> = { web: rc.breaker.state() };
    for (const [name, state] of current(metrics, 'facefleet_breaker_state', 'state', 'name')) breakers[name] = state;
    const body: FleetStatus = {
      at: new Date(now).toISOString(),
      queue: depth ? { visible: depth.visible, inFlight: depth.inFlight, delayed: depth.delayed, deadLetters: dead ?? 0 } : null,
      jobs: counts,
      workers: beats
        ? {
            busy: live.filter((b) => b.busy).length,
            idle: live.filter((b) => !b.busy).length,
            items: live.map((b) => ({ workerId: b.workerId, busy: b.busy, ...(b.jobId ? { jobId: b.jobId } : {}), at: b.at, jobsDone: b.jobsDone })),
          }
        : null,
      controller: hasController
        ? {
            scaler,
            desired: gauge(metrics, 'facefleet_fleet_desired'),
            running: gauge(metrics, 'facefleet_fleet_running'),
            pending: gauge(metrics, 'facefleet_fleet_pending'),
          }
        : null,
      breakers,
      errors,
    };
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
}
