import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { createBreaker } from '../../src/controller/breaker.js';
import { createController, type ControllerOptions } from '../../src/controller/controller.js';
import { createControllerMetrics } from '../../src/controller/metrics.js';
import { silentLogger } from '../../src/log.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { QueueDepth, WorkerHeartbeat } from '../../src/store/ports.js';
import { MemoryFleet } from './memory-fleet.js';

const config = { minWorkers: 0, maxWorkers: 15, idleSeconds: 30, intervalSeconds: 5 };

function harness(overrides: Partial<ControllerOptions> = {}) {
  const fleet = new MemoryFleet();
  const depth: QueueDepth = { visible: 0, inFlight: 0, delayed: 0 };
  const beats = new Map<string, { busy: boolean; jobsDone: number }>();
  const queue = { depth: vi.fn(async () => ({ ...depth })) };
  const registry = {
    list: vi.fn(async (): Promise<WorkerHeartbeat[]> =>
      [...beats.entries()].map(([workerId, b]) => ({ workerId, busy: b.busy, jobsDone: b.jobsDone, at: new Date().toISOString() })),
    ),
  };
  const breaker = createBreaker({ name: 'controller', failureThreshold: 2, cooldownMs: 20_000 });
  const controller = createController({ fleet, queue, registry, config, log: silentLogger(), breaker, ...overrides });
  /** Boot every pending instance; its worker reports idle. */
  const boot = () => {
    fleet.boot();
    for (const i of fleet.instances) if (!beats.has(i.id)) beats.set(i.id, { busy: false, jobsDone: 0 });
  };
  return { fleet, depth, beats, queue, registry, breaker, controller, boot };
}

describe('controller', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('launches for a backlog and reports its state', async () => {
    const h = harness();
    h.depth.visible = 40;
    const status = await h.controller.tick();
    expect(h.fleet.launches()).toBe(1);
    expect(h.fleet.instances.length).toBeGreaterThan(0);
    expect(status).toMatchObject({ scalerState: 'scaling-out', breaker: 'closed', depth: { visible: 40 } });
    expect(status.lastError).toBeUndefined();
  });

  it('holds the fleet while the breaker is open, then resumes after the cool-down', async () => {
    const h = harness();
    h.depth.visible = 40;
    h.fleet.failWith = new StoreUnavailableError('ec2 is down');
    await h.controller.tick();
    await h.controller.tick();
    expect(h.breaker.state()).toBe('open');
    const callsWhenOpened = h.fleet.calls.length;
    const depthCalls = h.queue.depth.mock.calls.length;
    // The fleet recovers but the breaker is still cooling down: no call reaches anything.
    h.fleet.failWith = undefined;
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(5_000);
      const status = await h.controller.tick();
      expect(status.breaker).toBe('open');
      expect(status.lastError?.code).toBe('circuit-open');
    }
    expect(h.fleet.calls.length).toBe(callsWhenOpened);
    expect(h.queue.depth.mock.calls.length).toBe(depthCalls);
    expect(h.fleet.instances).toEqual([]);
    // After the cool-down the probe goes through, the breaker closes and the backlog is served.
    vi.advanceTimersByTime(10_000);
    const status = await h.controller.tick();
    expect(status.breaker).toBe('closed');
    expect(h.fleet.launches()).toBe(1);
    expect(h.fleet.instances.length).toBeGreaterThan(0);
  });

  it('does not stop anything while the breaker is open, even with idle workers and no work', async () => {
    const h = harness({ config: { ...config, idleSeconds: 0 } });
    h.depth.visible = 5;
    await h.controller.tick();
    h.boot();
    h.depth.visible = 0;
    const before = h.fleet.instances.map((i) => i.id);
    h.fleet.failWith = new StoreUnavailableError('down');
    await h.controller.tick();
    await h.controller.tick();
    expect(h.breaker.state()).toBe('open');
    // The fleet answers again, but within the cool-down every tick holds.
    h.fleet.failWith = undefined;
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(5_000);
      await h.controller.tick();
    }
    expect(h.fleet.calls.filter((c) => c.startsWith('stop:'))).toEqual([]);
    expect(h.fleet.instances.map((i) => i.id)).toEqual(before);
    // Once it closes, the idle workers go.
    vi.advanceTimersByTime(10_000);
    await h.controller.tick();
    expect(h.breaker.state()).toBe('closed');
    expect(h.fleet.calls.filter((c) => c.startsWith('stop:'))).toHaveLength(1);
  });

  it('replaces a crashed instance on the next tick', async () => {
    const h = harness({ config: { ...config, minWorkers: 3 } });
    await h.controller.tick();
    h.boot();
    vi.advanceTimersByTime(5_000);
    await h.controller.tick();
    expect(h.fleet.instances).toHaveLength(3);
    const crashed = h.fleet.instances[1].id;
    h.fleet.crash(crashed);
    h.beats.delete(crashed);
    vi.advanceTimersByTime(5_000);
    await h.controller.tick();
    expect(h.fleet.calls.at(-1)).toBe('launch:1');
    expect(h.fleet.instances).toHaveLength(3);
    expect(h.fleet.instances.map((i) => i.id)).not.toContain(crashed);
  });

  it('replaces a worker that crashed with a backlog waiting', async () => {
    const h = harness();
    h.depth.visible = 1000;
    await h.controller.tick();
    h.boot();
    const size = h.fleet.instances.length;
    expect(size).toBeGreaterThan(1);
    const [crashed] = h.fleet.instances.map((i) => i.id);
    // Its job went back to the queue; the others are busy.
    h.fleet.crash(crashed);
    h.beats.delete(crashed);
    for (const i of h.fleet.instances) h.beats.set(i.id, { busy: true, jobsDone: 0 });
    h.depth.visible = 900;
    h.depth.inFlight = size - 1;
    vi.advanceTimersByTime(5_000);
    await h.controller.tick();
    // At least the lost capacity comes back (more if the measured boot time says it pays).
    // The replacements are launched retiring: nothing will need them once the backlog is done.
    expect(h.fleet.calls.at(-1)).toMatch(/^launch:\d+:retire=\d+$/);
    expect(h.fleet.instances.length).toBeGreaterThanOrEqual(size);
    expect(h.fleet.instances.map((i) => i.id)).not.toContain(crashed);
  });

  it('retries a partial launch on later ticks', async () => {
    const h = harness();
    h.fleet.launchLimit = 2;
    h.depth.visible = 100;
    await h.controller.tick();
    expect(h.fleet.instances.length).toBe(2);
    const wanted = h.controller.status().desired;
    expect(wanted).toBeGreaterThan(2);
    h.fleet.launchLimit = Infinity;
    vi.advanceTimersByTime(5_000);
    await h.controller.tick();
    expect(h.fleet.instances.length).toBe(wanted);
  });

  it('ticks on its interval after start() and not after stop()', async () => {
    const h = harness();
    h.controller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.queue.depth).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(h.queue.depth).toHaveBeenCalledTimes(4);
    await h.controller.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.queue.depth).toHaveBeenCalledTimes(4);
  });

  it('asks the fleet to retire busy workers it will not need once the queue is empty', async () => {
    const h = harness({ config: { ...config, idleSeconds: 0 } });
    h.depth.visible = 1;
    await h.controller.tick();
    expect(h.fleet.instances).toHaveLength(1);
    const [id] = h.fleet.instances.map((i) => i.id);
    vi.advanceTimersByTime(5_000);
    h.boot();
    h.depth.visible = 0;
    h.depth.inFlight = 1;
    h.beats.set(id, { busy: true, jobsDone: 0 });
    const status = await h.controller.tick();
    expect(h.fleet.calls).toContain(`retire:${id}`);
    expect(h.fleet.calls.some((c) => c.startsWith('stop:'))).toBe(false);
    expect(status.scalerState).toBe('draining');
    // A fleet without retire: the action is skipped, nothing is stopped while the job runs.
    const plain = harness({ config: { ...config, idleSeconds: 0 } });
    Object.defineProperty(plain.fleet, 'retire', { value: undefined });
    plain.depth.visible = 1;
    await plain.controller.tick();
    vi.advanceTimersByTime(5_000);
    plain.boot();
    plain.depth.visible = 0;
    plain.depth.inFlight = 1;
    for (const i of plain.fleet.instances) plain.beats.set(i.id, { busy: true, jobsDone: 0 });
    const held = await plain.controller.tick();
    expect(held.lastError).toBeUndefined();
    expect(plain.fleet.calls.filter((c) => c.startsWith('stop:') || c.startsWith('retire:'))).toEqual([]);
    expect(plain.fleet.instances).toHaveLength(1);
  });

  it('asks through the registry when the fleet cannot retire (EC2), by worker id', async () => {
    const retire = vi.fn(async (_workerId: string, _at: string) => {});
    const h = harness({ config: { ...config, idleSeconds: 0 } });
    const registry = { list: h.registry.list, retire };
    const controller = createController({ fleet: h.fleet, queue: h.queue, registry, config: { ...config, idleSeconds: 0 }, log: silentLogger(), breaker: h.breaker });
    Object.defineProperty(h.fleet, 'retire', { value: undefined });
    h.depth.visible = 1;
    await controller.tick();
    const [instance] = h.fleet.instances;
    instance.workerId = 'worker-on-' + instance.id;
    vi.advanceTimersByTime(5_000);
    h.fleet.boot();
    h.depth.visible = 0;
    h.depth.inFlight = 1;
    h.beats.set(instance.workerId, { busy: true, jobsDone: 0 });
    await controller.tick();
    expect(retire).toHaveBeenCalledTimes(1);
    expect(retire.mock.calls[0][0]).toBe(instance.workerId);
    expect(h.fleet.calls.some((c) => c.startsWith('stop:'))).toBe(false);
  });

  it('publishes the scaler and breaker states as gauges', async () => {
    const registry = new Registry();
    const metrics = createControllerMetrics({ registry });
    const h = harness({ metrics });
    h.depth.visible = 10;
    await h.controller.tick();
    const text = await registry.metrics();
    expect(text).toMatch(/facefleet_scaler_state\{state="scaling-out"\} 1/);
    expect(text).toMatch(/facefleet_scaler_state\{state="idle"\} 0/);
    expect(text).toMatch(new RegExp(`facefleet_fleet_desired ${h.controller.status().desired}`));
    expect(text).toMatch(/facefleet_fleet_running 0/);
    expect(text).toMatch(/facefleet_breaker_state\{name="controller",state="closed"\} 1/);
  });
});
