import type { WorkerHeartbeat } from '../store/ports.js';
import type { Instance } from './fleet.js';

/**
 * Default for how long a running instance may go without a heartbeat before the controller
 * replaces it, seconds: several heartbeat intervals (10 s by default), so one slow beat on a
 * busy machine is not a death sentence.
 */
export const DEFAULT_SILENT_AFTER_SECONDS = 45;

/**
 * The fleet's "running" is the process being up; a worker that is up but has not heartbeated
 * for `silentAfterMs` (a wedged receive loop, stores it cannot write) is not "reporting".
 * Returns those instances: `running`, launched longer ago than the limit, and with no heartbeat
 * (matched by worker id, else by instance id) newer than it. Instances whose worker id is
 * unknown and that no heartbeat names are left alone: nothing ties them to the registry.
 */
export function silentInstances(instances: Instance[], workers: WorkerHeartbeat[], at: number, silentAfterMs: number): Instance[] {
  const lastBeat = new Map<string, number>();
  for (const w of workers) {
    const t = Date.parse(w.at);
    for (const id of [w.workerId, w.instanceId]) if (id) lastBeat.set(id, Math.max(lastBeat.get(id) ?? 0, t));
  }
  return instances.filter((i) => {
    if (i.state !== 'running' || at - Date.parse(i.launchedAt) < silentAfterMs) return false;
    const beat = Math.max(lastBeat.get(i.workerId ?? '') ?? 0, lastBeat.get(i.id) ?? 0);
    if (beat === 0 && !i.workerId) return false;
    return at - beat > silentAfterMs;
  });
}
