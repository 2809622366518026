import { describe, expect, it } from 'vitest';
import { breakerState, initialBreaker, stepBreaker, type BreakerEvent, type BreakerSnapshot } from '../../src/machines/breaker.js';

function run(snapshot: BreakerSnapshot, ...events: BreakerEvent[]) {
  let s = snapshot;
  let actions: ReturnType<typeof stepBreaker>['actions'] = [];
  for (const e of events) ({ snapshot: s, actions } = stepBreaker(s, e));
  return { snapshot: s, actions };
}

const fail = (at: number): BreakerEvent => ({ type: 'FAILURE', at });
const ok = (at: number): BreakerEvent => ({ type: 'SUCCESS', at });
const req = (at: number): BreakerEvent => ({ type: 'REQUEST', at });

describe('breaker machine', () => {
  it('permits calls while closed and opens after N consecutive failures', () => {
    const start = initialBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    expect(run(start, req(0)).actions).toEqual([{ type: 'permit', params: { probe: false } }]);
    const two = run(start, fail(1), fail(2));
    expect(breakerState(two.snapshot)).toBe('closed');
    const three = run(two.snapshot, fail(3));
    expect(breakerState(three.snapshot)).toBe('open');
    expect(run(three.snapshot, req(500)).actions).toEqual([{ type: 'reject', params: { retryAfterMs: 503 } }]);
  });

  it('a success in between resets the consecutive count', () => {
    const s = run(initialBreaker({ failureThreshold: 3, cooldownMs: 1000 }), fail(1), fail(2), ok(3), fail(4), fail(5));
    expect(breakerState(s.snapshot)).toBe('closed');
    expect(breakerState(run(s.snapshot, fail(6)).snapshot)).toBe('open');
  });

  it('half-opens after the cool-down and lets exactly one probe through', () => {
    const open = run(initialBreaker({ failureThreshold: 1, cooldownMs: 1000 }), fail(0)).snapshot;
    expect(run(open, req(999)).actions[0].type).toBe('reject');
    const probe = run(open, req(1000));
    expect(breakerState(probe.snapshot)).toBe('half-open');
    expect(probe.actions).toEqual([{ type: 'permit', params: { probe: true } }]);
    // A second caller while the probe is out is refused.
    expect(run(probe.snapshot, req(1001)).actions[0].type).toBe('reject');
  });

  it('closes when the probe succeeds and re-opens when it fails', () => {
    const halfOpen = run(initialBreaker({ failureThreshold: 1, cooldownMs: 1000 }), fail(0), req(1000)).snapshot;
    const closed = run(halfOpen, ok(1100)).snapshot;
    expect(breakerState(closed)).toBe('closed');
    expect(closed.context.consecutiveFailures).toBe(0);
    const reopened = run(halfOpen, fail(1100)).snapshot;
    expect(breakerState(reopened)).toBe('open');
    // The cool-down restarts from the failed probe.
    expect(run(reopened, req(2000)).actions[0].type).toBe('reject');
    expect(run(reopened, req(2100)).actions[0].type).toBe('permit');
  });

  it('a probe that never reports back expires after a cool-down', () => {
    const halfOpen = run(initialBreaker({ failureThreshold: 1, cooldownMs: 1000 }), fail(0), req(1000)).snapshot;
    expect(run(halfOpen, req(1999)).actions[0].type).toBe('reject');
    expect(run(halfOpen, req(2000)).actions).toEqual([{ type: 'permit', params: { probe: true } }]);
  });

  it('opens on the failure rate over a full window even without N in a row', () => {
    const start = initialBreaker({ failureThreshold: 100, failureRateThreshold: 0.5, windowSize: 6, cooldownMs: 1000 });
    // fail, ok, fail, ok, fail: 3 of 5, window not full yet.
    const partial = run(start, fail(1), ok(2), fail(3), ok(4), fail(5)).snapshot;
    expect(breakerState(partial)).toBe('closed');
    // The sixth call fills the window: 4 of 6 failed.
    expect(breakerState(run(partial, fail(6)).snapshot)).toBe('open');
    // Below the rate it stays closed: 2 of 6.
    const low = run(start, fail(1), ok(2), ok(3), fail(4), ok(5), ok(6)).snapshot;
    expect(breakerState(low)).toBe('closed');
  });

  it('ignores late outcomes while open', () => {
    const open = run(initialBreaker({ failureThreshold: 1, cooldownMs: 1000 }), fail(0)).snapshot;
    expect(breakerState(run(open, ok(10)).snapshot)).toBe('open');
  });
});
