import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBreaker, guardPort } from '../../src/controller/breaker.js';
import { CircuitOpenError } from '../../src/controller/errors.js';
import { TimeoutError } from '../../src/errors.js';
import { NotFoundError, StorePermanentError, StoreUnavailableError, VersionConflictError } from '../../src/store/errors.js';

const down = () => Promise.reject(new StoreUnavailableError('down'));

async function failTimes(call: (fn: () => Promise<unknown>) => Promise<unknown>, n: number, fn: () => Promise<unknown> = down) {
  for (let i = 0; i < n; i++) await expect(call(fn)).rejects.toBeDefined();
}

describe('createBreaker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after the threshold and then fails fast without calling', async () => {
    const b = createBreaker({ name: 't', failureThreshold: 3, cooldownMs: 10_000 });
    const call = (fn: () => Promise<unknown>) => b.call(fn);
    await failTimes(call, 3);
    expect(b.state()).toBe('open');
    const fn = vi.fn(() => Promise.resolve(1));
    const err = await b.call(fn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect((err as CircuitOpenError).code).toBe('circuit-open');
    expect((err as CircuitOpenError).retryable).toBe(true);
    expect((err as CircuitOpenError).retryAfterSeconds).toBe(10);
    expect(fn).not.toHaveBeenCalled();
  });

  it('half-opens after the cool-down, recloses on a successful probe', async () => {
    const changes: string[] = [];
    const b = createBreaker({ name: 't', failureThreshold: 2, cooldownMs: 5_000 });
    b.onChange((to, from) => changes.push(`${from}->${to}`));
    await failTimes((fn) => b.call(fn), 2);
    vi.advanceTimersByTime(4_999);
    await expect(b.call(() => Promise.resolve('x'))).rejects.toBeInstanceOf(CircuitOpenError);
    vi.advanceTimersByTime(1);
    await expect(b.call(() => Promise.resolve('x'))).resolves.toBe('x');
    expect(b.state()).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('lets one probe through in half-open and re-opens when it fails', async () => {
    const b = createBreaker({ name: 't', failureThreshold: 1, cooldownMs: 1_000 });
    await failTimes((fn) => b.call(fn), 1);
    vi.advanceTimersByTime(1_000);
    let release!: () => void;
    const probe = b.call(() => new Promise<void>((_, reject) => (release = () => reject(new TimeoutError('slow')))));
    expect(b.state()).toBe('half-open');
    const second = vi.fn(() => Promise.resolve());
    await expect(b.call(second)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(second).not.toHaveBeenCalled();
    release();
    await expect(probe).rejects.toBeInstanceOf(TimeoutError);
    expect(b.state()).toBe('open');
  });

  it('opens on the failure rate over the window', async () => {
    const b = createBreaker({ name: 't', failureThreshold: 100, failureRateThreshold: 0.5, windowSize: 4, cooldownMs: 1_000 });
    const ok = () => Promise.resolve();
    await b.call(ok);
    await failTimes((fn) => b.call(fn), 1);
    await b.call(ok);
    expect(b.state()).toBe('closed');
    await failTimes((fn) => b.call(fn), 1);
    expect(b.state()).toBe('open');
  });

  it('does not count answers from a healthy backend: not found, bad request, version conflict', async () => {
    const b = createBreaker({ name: 't', failureThreshold: 2, cooldownMs: 1_000 });
    for (const err of [new NotFoundError('gone'), new StorePermanentError('bad request'), new VersionConflictError('moved on')]) {
      await failTimes((fn) => b.call(fn), 3, () => Promise.reject(err));
    }
    expect(b.state()).toBe('closed');
    // Retryable infrastructure failures do count, plain errors included.
    await failTimes((fn) => b.call(fn), 1, () => Promise.reject(new Error('ECONNRESET')));
    await failTimes((fn) => b.call(fn), 1, () => Promise.reject(new TimeoutError('slow')));
    expect(b.state()).toBe('open');
  });
});

describe('guardPort', () => {
  it('routes every method through the breaker but lets close through while open', async () => {
    class Store {
      calls = 0;
      async get(key: string): Promise<string> {
        this.calls++;
        if (key === 'down') throw new StoreUnavailableError('down');
        return `v:${key}`;
      }
      async close(): Promise<void> {
        this.calls++;
      }
    }
    const store = new Store();
    const b = createBreaker({ name: 'web-stores', failureThreshold: 2, cooldownMs: 60_000 });
    const guarded = guardPort(store, b);
    await expect(guarded.get('a')).resolves.toBe('v:a');
    await expect(guarded.get('down')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(guarded.get('down')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(b.state()).toBe('open');
    const before = store.calls;
    await expect(guarded.get('a')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(store.calls).toBe(before);
    await guarded.close();
    expect(store.calls).toBe(before + 1);
  });
});
