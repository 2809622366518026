import { describe, expect, it } from 'vitest';
import type { Instance } from '../../src/controller/fleet.js';
import {
  desiredWorkers,
  initialScaler,
  scalerState,
  stepScaler,
  type ScalerAction,
  type ScalerObservation,
  type ScalerPolicy,
  type ScalerSnapshot,
} from '../../src/machines/scaler.js';
import type { WorkerHeartbeat } from '../../src/store/ports.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A tiny world the tests drive tick by tick: instances, their workers and the queue. */
class World {
  instances: Instance[] = [];
  workers = new Map<string, { busy: boolean; jobsDone: number }>();
  visible = 0;
  inFlight = 0;
  now = T0;
  snapshot: ScalerSnapshot;
  launched = 0;
  stopped: string[] = [];
  retired: string[] = [];
  private seq = 0;

  constructor(policy: Partial<ScalerPolicy> = {}) {
    this.snapshot = initialScaler(policy);
  }

  observation(): ScalerObservation {
    return {
      at: this.now,
      depth: { visible: this.visible, inFlight: this.inFlight, delayed: 0 },
      instances: this.instances.map((i) => ({ ...i })),
      workers: [...this.workers.entries()].map(
        ([id, w]): WorkerHeartbeat => ({ workerId: id, instanceId: id, busy: w.busy, at: iso(this.now), jobsDone: w.jobsDone, ...(w.jobsDone ? { meanJobSeconds: 0.4 } : {}) }),
      ),
    };
  }

  /** One tick; launches become pending instances, stops remove them. Returns the actions. */
  tick(seconds = 5): ScalerAction[] {
    this.now += seconds * 1000;
    const { snapshot, actions } = stepScaler(this.snapshot, this.observation());
    this.snapshot = snapshot;
    for (const a of actions) {
      if (a.type === 'launch') {
        this.launched += a.params.count;
        for (let k = 0; k < a.params.count; k++) this.instances.push({ id: `i-${++this.seq}`, state: 'pending', launchedAt: iso(this.now) });
      } else if (a.type === 'retire') {
        // The workers carry on; they leave the fleet when they find the queue empty (see exit()).
        this.retired.push(...a.params.ids);
      } else {
        this.stopped.push(...a.params.ids);
        this.instances = this.instances.filter((i) => !a.params.ids.includes(i.id));
        for (const id of a.params.ids) this.workers.delete(id);
      }
    }
    return actions;
  }

  /** Pending instances finish booting; their workers report idle. */
  boot(): void {
    for (const i of this.instances) {
      if (i.state !== 'pending') continue;
      i.state = 'running';
      this.workers.set(i.id, { busy: false, jobsDone: 0 });
    }
  }

  /** A worker exited (a retired one that found the queue empty): gone from the fleet. */
  exit(id: string): void {
    this.instances = this.instances.filter((i) => i.id !== id);
    this.workers.delete(id);
  }

  get state() {
    return scalerState(this.snapshot);
  }
  get live() {
    return this.instances.length;
  }
}

describe('desiredWorkers', () => {
  const policy = { minWorkers: 0, maxWorkers: 15, latencySlack: 0.1, targetUtilization: 0.5 };
  it('is zero with no work and no arrivals, and never more workers than jobs', () => {
    expect(desiredWorkers({ waiting: 0, inFlight: 0, running: 0, capacity: 0, jobSeconds: 0.35, bootSeconds: 30, arrivalRate: 0, policy })).toBe(0);
    expect(desiredWorkers({ waiting: 3, inFlight: 0, running: 0, capacity: 0, jobSeconds: 10, bootSeconds: 30, arrivalRate: 0, policy })).toBe(3);
  });
  it('clamps to the bounds', () => {
    expect(desiredWorkers({ waiting: 100_000, inFlight: 0, running: 0, capacity: 0, jobSeconds: 1, bootSeconds: 30, arrivalRate: 0, policy: { ...policy, latencySlack: 0 } })).toBe(15);
    // With slack, a huge backlog still gets nearly the whole fleet.
    expect(desiredWorkers({ waiting: 100_000, inFlight: 0, running: 0, capacity: 0, jobSeconds: 1, bootSeconds: 30, arrivalRate: 0, policy })).toBeGreaterThanOrEqual(14);
    expect(desiredWorkers({ waiting: 0, inFlight: 0, running: 0, capacity: 0, jobSeconds: 1, bootSeconds: 30, arrivalRate: 0, policy: { ...policy, minWorkers: 2 } })).toBe(2);
  });
  it('takes fewer workers than the maximum when boot time dominates the drain', () => {
    const n = desiredWorkers({ waiting: 100, inFlight: 0, running: 0, capacity: 0, jobSeconds: 0.35, bootSeconds: 30, arrivalRate: 0, policy });
    expect(n).toBeGreaterThan(1);
    expect(n).toBeLessThan(15);
    // The drain with n workers stays within the slack of the full fleet's.
    expect(30 + (100 * 0.35) / n).toBeLessThanOrEqual(1.1 * (30 + (100 * 0.35) / 15));
  });
  it('sizes steady arrivals by the target utilisation', () => {
    expect(desiredWorkers({ waiting: 0, inFlight: 0, running: 0, capacity: 0, jobSeconds: 0.5, bootSeconds: 30, arrivalRate: 6, policy })).toBe(6);
  });
});

describe('scaler machine', () => {
  it('starts idle and stays idle with nothing to do', () => {
    const w = new World();
    expect(w.state).toBe('idle');
    expect(w.tick()).toEqual([]);
    expect(w.state).toBe('idle');
  });

  it('scales out at once on a burst and counts booting instances as capacity', () => {
    const w = new World();
    w.visible = 200;
    const first = w.tick();
    expect(first).toHaveLength(1);
    expect(first[0].type).toBe('launch');
    expect(w.state).toBe('scaling-out');
    const launched = w.launched;
    expect(launched).toBeGreaterThan(0);
    // Still booting, same backlog: nothing more is launched.
    expect(w.tick()).toEqual([]);
    expect(w.tick()).toEqual([]);
    expect(w.launched).toBe(launched);
    expect(w.state).toBe('scaling-out');
  });

  it('never exceeds max-workers, whatever the backlog', () => {
    const w = new World({ maxWorkers: 4 });
    for (let i = 0; i < 30; i++) {
      w.visible = 10_000 - i * 10;
      w.tick();
      if (i % 3 === 0) w.boot();
      expect(w.live).toBeLessThanOrEqual(4);
    }
    expect(w.launched).toBe(4);
  });

  it('holds while work is in hand, then stops only idle workers, and reaches zero after the idle time', () => {
    // Boot time well above idleSeconds, so the linger is idleSeconds (it is the shorter of the two).
    const w = new World({ idleSeconds: 30, defaultBootSeconds: 120, cooldownSeconds: 10 });
    w.visible = 100;
    w.tick();
    w.boot();
    const ids = w.instances.map((i) => i.id);
    expect(ids.length).toBeGreaterThan(1);
    // Workers took the jobs; one is still busy with a long job.
    w.visible = 0;
    w.inFlight = 1;
    for (const id of ids) w.workers.set(id, { busy: id === ids[0], jobsDone: 20 });
    const actions = w.tick();
    const stops = actions.filter((a) => a.type === 'stop').flatMap((a) => (a.type === 'stop' ? a.params.ids : []));
    expect(stops.length).toBeGreaterThan(0);
    expect(stops).not.toContain(ids[0]);
    expect(w.state).toBe('cooldown');
    // The busy worker is kept while busy, through the cool-down and beyond.
    for (let i = 0; i < 4; i++) w.tick();
    expect(w.instances.map((i) => i.id)).toEqual([ids[0]]);
    // Its job is done, and no job has arrived for idleSeconds: the last worker goes.
    w.inFlight = 0;
    w.workers.set(ids[0], { busy: false, jobsDone: 21 });
    expect(w.now - T0).toBeGreaterThanOrEqual(30_000);
    w.tick();
    expect(w.live).toBe(0);
    expect(w.stopped).toContain(ids[0]);
    w.tick();
    expect(w.state).toBe('idle');
  });

  it('keeps min-workers and replaces missing ones', () => {
    const w = new World({ minWorkers: 2 });
    expect(w.tick()).toEqual([{ type: 'launch', params: { count: 2 } }]);
    w.boot();
    for (let i = 0; i < 20; i++) w.tick();
    expect(w.live).toBe(2);
    // One crashed: it is gone from the fleet's list.
    w.instances.pop();
    expect(w.tick()).toEqual([{ type: 'launch', params: { count: 1 } }]);
  });

  it('does not flap on a trickle: one warm worker serves a job every 10 s', () => {
    const w = new World({ idleSeconds: 30, defaultBootSeconds: 30 });
    w.visible = 1;
    w.tick();
    w.boot();
    w.visible = 0;
    const [id] = w.instances.map((i) => i.id);
    let done = 1;
    let actions = 0;
    // Ten minutes: a job arrives every 10 s and is done before the next tick sees it waiting.
    for (let t = 0; t < 120; t++) {
      if (t % 2 === 0) w.workers.set(id, { busy: false, jobsDone: ++done });
      actions += w.tick().length;
    }
    expect(actions).toBe(0);
    expect(w.live).toBe(1);
    expect(w.launched).toBe(1);
    // The trickle stops: after idleSeconds the worker goes, once.
    for (let t = 0; t < 12; t++) actions += w.tick().length;
    expect(actions).toBe(1);
    expect(w.live).toBe(0);
  });

  it('keeps the warm worker for idleSeconds after the last job, even when a worker boots in a second', () => {
    // A local worker boots in about a second: the linger is still idleSeconds, as documented.
    const w = new World({ idleSeconds: 30, defaultBootSeconds: 1 });
    w.visible = 1;
    w.tick();
    w.boot();
    w.visible = 0;
    const [id] = w.instances.map((i) => i.id);
    let done = 1;
    // A job every 10 s for two minutes.
    for (let t = 0; t < 24; t++) {
      if (t % 2 === 0) w.workers.set(id, { busy: false, jobsDone: ++done });
      w.tick();
    }
    expect(w.live).toBe(1);
    const lastJobAt = w.now - 5_000;
    // The trickle stops: the worker is still there 25 s after the last job...
    while (w.now - lastJobAt < 25_000) w.tick();
    expect(w.live).toBe(1);
    // ...and gone once idleSeconds have passed.
    for (let t = 0; t < 3; t++) w.tick();
    expect(w.live).toBe(0);
  });

  it('treats a stale heartbeat as unknown: never stops a worker it cannot see is idle', () => {
    const w = new World({ idleSeconds: 0, staleHeartbeatSeconds: 10 });
    w.visible = 1;
    w.tick();
    w.boot();
    w.visible = 0;
    const [id] = w.instances.map((i) => i.id);
    // The observation carries a heartbeat from a minute ago.
    const old = stepScaler(w.snapshot, {
      ...w.observation(),
      at: w.now + 60_000,
      workers: [{ workerId: id, instanceId: id, busy: false, at: iso(w.now), jobsDone: 1 }],
    });
    expect(old.actions).toEqual([]);
  });

  it('learns the boot time from instances seen going from pending to running', () => {
    const w = new World({ defaultBootSeconds: 30 });
    w.visible = 50;
    w.tick();
    w.boot();
    w.tick();
    expect(w.snapshot.context.bootSeconds).toBeLessThan(30);
    expect(w.snapshot.context.bootSeconds).toBeGreaterThanOrEqual(5);
  });

  it('holds further scale-in during the cool-down but scales out at once', () => {
    const w = new World({ idleSeconds: 0, cooldownSeconds: 20 });
    w.visible = 40;
    w.tick();
    w.boot();
    const ids = w.instances.map((i) => i.id);
    expect(ids.length).toBeGreaterThan(2);
    w.visible = 0;
    w.inFlight = 2;
    for (const id of ids) w.workers.set(id, { busy: id === ids[0] || id === ids[1], jobsDone: 5 });
    w.tick();
    expect(w.state).toBe('cooldown');
    expect(w.instances.map((i) => i.id)).toEqual(ids.slice(0, 2));
    // Both finish: idle, but the cool-down holds the scale-in.
    w.inFlight = 0;
    for (const id of ids.slice(0, 2)) w.workers.set(id, { busy: false, jobsDone: 6 });
    expect(w.tick()).toEqual([]);
    expect(w.state).toBe('cooldown');
    // A new backlog is served at once, cool-down or not.
    w.visible = 300;
    expect(w.tick()[0]?.type).toBe('launch');
    expect(w.state).toBe('scaling-out');
  });
  it('retires a busy worker on sparse arrivals instead of keeping it warm (a job every 30 s)', () => {
    const w = new World({ idleSeconds: 30, defaultBootSeconds: 30 });
    w.visible = 1;
    // Nothing suggests a steady rate: the worker is launched retiring...
    expect(w.tick()).toEqual([{ type: 'launch', params: { count: 1, retire: 1 } }]);
    // ...but this world's fleet does not say so, so the scaler retires it once it sees it busy.
    w.instances[0].retiring = undefined;
    const [id] = w.instances.map((i) => i.id);
    // Booting for 30 s; the next job arrives meanwhile.
    for (let t = 0; t < 5; t++) expect(w.tick()).toEqual([]);
    w.visible = 2;
    w.tick();
    // Booted: it takes the first job, the second waits. Jobs come 30 s apart, as long as
    // idleSeconds: keeping it warm would cost a whole gap per job, so it is retired, not stopped.
    w.boot();
    w.visible = 1;
    w.inFlight = 1;
    w.workers.set(id, { busy: true, jobsDone: 0 });
    expect(w.tick()).toEqual([{ type: 'retire', params: { ids: [id] } }]);
    expect(w.state).toBe('draining');
    expect(w.stopped).toEqual([]);
    // Asked once only, and never stopped while busy.
    w.visible = 0;
    expect(w.tick()).toEqual([]);
    expect(w.retired).toEqual([id]);
    // It found the queue empty and exited: the fleet is at zero.
    w.exit(id);
    w.inFlight = 0;
    w.tick();
    expect(w.state).toBe('idle');
  });

  it('retires the surplus of a draining burst but keeps the workers the backlog needs', () => {
    const w = new World({ idleSeconds: 30, defaultBootSeconds: 30 });
    w.visible = 200;
    w.tick();
    w.boot();
    const ids = w.instances.map((i) => i.id);
    expect(ids.length).toBeGreaterThan(2);
    // Half the burst is done and nothing new arrived: 200 jobs = 100 waiting + n in hand + done.
    const n = ids.length;
    for (const id of ids) w.workers.set(id, { busy: true, jobsDone: id === ids[0] ? 100 - n : 0 });
    w.visible = 100;
    w.inFlight = n;
    const actions = w.tick();
    // The burst just arrived: one worker stays warm for idleSeconds, the rest retire once the
    // queue is empty. Nothing is stopped and nothing more is launched.
    expect(actions.map((a) => a.type)).toEqual(['retire']);
    expect(w.retired).toHaveLength(ids.length - 1);
    expect(ids.filter((id) => !w.retired.includes(id))).toHaveLength(1);
    expect(w.launched).toBe(ids.length);
    // No job arrives for idleSeconds: the last one is retired too.
    for (let t = 0; t < 7; t++) w.tick();
    expect(w.retired).toHaveLength(ids.length);
    expect(new Set(w.retired).size).toBe(ids.length);
  });

  it('does not ask again a worker the fleet reports retiring, and counts it as leaving', () => {
    const w = new World({ idleSeconds: 0, defaultBootSeconds: 30, maxWorkers: 2 });
    w.visible = 300;
    w.tick();
    w.boot();
    const ids = w.instances.map((i) => i.id);
    expect(ids).toHaveLength(2);
    for (let t = 0; t < 7; t++) w.tick();
    // One was launched retiring (the fleet says so); both are busy and nothing will be needed.
    w.instances[0].retiring = true;
    w.visible = 0;
    w.inFlight = 2;
    for (const id of ids) w.workers.set(id, { busy: true, jobsDone: 1 });
    expect(w.tick()).toEqual([{ type: 'retire', params: { ids: [ids[1]] } }]);
    expect(w.tick()).toEqual([]);
  });

  it('stops idle workers and retires busy ones in the same tick', () => {
    const w = new World({ idleSeconds: 0, defaultBootSeconds: 30, maxWorkers: 3 });
    w.visible = 300;
    w.tick();
    w.boot();
    const ids = w.instances.map((i) => i.id);
    expect(ids).toHaveLength(3);
    for (let t = 0; t < 7; t++) w.tick();
    w.visible = 0;
    w.inFlight = 2;
    w.workers.set(ids[0], { busy: true, jobsDone: 1 });
    w.workers.set(ids[1], { busy: true, jobsDone: 1 });
    w.workers.set(ids[2], { busy: false, jobsDone: 1 });
    const actions = w.tick();
    expect(actions).toHaveLength(2);
    expect(actions[0]).toEqual({ type: 'stop', params: { ids: [ids[2]] } });
    const retire = actions[1];
    if (retire.type !== 'retire') throw new Error(`expected a retire, got ${retire.type}`);
    expect([...retire.params.ids].sort()).toEqual([ids[0], ids[1]].sort());
  });
});
