import { describe, expect, it } from 'vitest';
import {
  FaultPlanError,
  applyFaultPlan,
  applyFaultPlans,
  parseFaultPlans,
  withFaults,
} from '../../src/store/faults.js';
import {
  NotFoundError,
  StorePermanentError,
  StoreUnavailableError,
  VersionConflictError,
} from '../../src/store/errors.js';

/** A stand-in store with private state, to check calls reach the real object. */
class Counter {
  #calls = 0;
  label = 'counter';
  async hit(n: number): Promise<number> {
    this.#calls += n;
    return this.#calls;
  }
  async other(): Promise<string> {
    return 'ok';
  }
  calls(): number {
    return this.#calls;
  }
}

async function outcomes(fn: () => Promise<unknown>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      await fn();
      out.push('ok');
    } catch (err) {
      out.push((err as { code?: string }).code ?? 'error');
    }
  }
  return out;
}

describe('withFaults', () => {
  it('fails the next N calls, then calls through', async () => {
    const store = withFaults(new Counter(), { hit: { times: 2 } });
    expect(await outcomes(() => store.hit(1), 4)).toEqual(['store-unavailable', 'store-unavailable', 'ok', 'ok']);
    expect(store.calls()).toBe(2);
  });

  it('throws StoreUnavailableError by default and the named error when asked', async () => {
    await expect(withFaults(new Counter(), { hit: {} }).hit(1)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(withFaults(new Counter(), { hit: { error: 'conflict' } }).hit(1)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(withFaults(new Counter(), { hit: { error: 'permanent' } }).hit(1)).rejects.toBeInstanceOf(StorePermanentError);
    await expect(withFaults(new Counter(), { hit: { error: 'not-found' } }).hit(1)).rejects.toBeInstanceOf(NotFoundError);
    const custom = new RangeError('custom');
    await expect(withFaults(new Counter(), { hit: { error: () => custom } }).hit(1)).rejects.toBe(custom);
  });

  it('lets the first calls through with after', async () => {
    const store = withFaults(new Counter(), { hit: { after: 2, times: 1 } });
    expect(await outcomes(() => store.hit(1), 4)).toEqual(['ok', 'ok', 'store-unavailable', 'ok']);
  });

  it('fails until a time on the injected clock', async () => {
    let t = 1_000;
    const store = withFaults(new Counter(), { hit: { until: 2_000 }, other: { forMs: 500 } }, { now: () => t });
    await expect(store.hit(1)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.other()).rejects.toBeInstanceOf(StoreUnavailableError);
    t = 1_500;
    await expect(store.other()).resolves.toBe('ok');
    await expect(store.hit(1)).rejects.toBeInstanceOf(StoreUnavailableError);
    t = 2_000;
    await expect(store.hit(1)).resolves.toBe(1);
  });

  it('fails with a probability, using the injected random source', async () => {
    const rolls = [0.05, 0.5, 0.09, 0.95];
    const store = withFaults(new Counter(), { hit: { probability: 0.1 } }, { random: () => rolls.shift() ?? 1 });
    expect(await outcomes(() => store.hit(1), 4)).toEqual(['store-unavailable', 'ok', 'store-unavailable', 'ok']);
  });

  it('leaves other methods and properties alone, and reports each fault', async () => {
    const seen: string[] = [];
    const store = withFaults(new Counter(), { hit: { times: 1 } }, { onFault: (m, e) => seen.push(`${m}:${(e as StoreUnavailableError).code}`) });
    expect(store.label).toBe('counter');
    await expect(store.other()).resolves.toBe('ok');
    await expect(store.hit(1)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(seen).toEqual(['hit:store-unavailable']);
  });

  it('waits delayMs before failing', async () => {
    const store = withFaults(new Counter(), { hit: { delayMs: 50 } });
    const started = Date.now();
    await expect(store.hit(1)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });

  it('rejects a bad spec', () => {
    expect(() => withFaults(new Counter(), { hit: { probability: 2 } })).toThrow(FaultPlanError);
    expect(() => withFaults(new Counter(), { hit: { times: -1 } })).toThrow(FaultPlanError);
    expect(() => withFaults(new Counter(), { hit: { error: 'boom' as never } })).toThrow(FaultPlanError);
  });
});

describe('parseFaultPlans and applyFaultPlan', () => {
  it('reads store plans from JSON', () => {
    expect(parseFaultPlans('{"queue":{"receive":{"times":3}},"jobs":{"save":{"probability":0.5,"error":"conflict"}}}')).toEqual({
      queue: { receive: { times: 3 } },
      jobs: { save: { probability: 0.5, error: 'conflict' } },
    });
    expect(parseFaultPlans(undefined)).toEqual({});
    expect(parseFaultPlans('  ')).toEqual({});
  });

  it.each(['{', '[]', '"x"', '{"queue":3}', '{"queue":{"receive":{"error":"nope"}}}', '{"queue":{"receive":{"times":"2"}}}'])(
    'rejects %s',
    (json) => {
      expect(() => parseFaultPlans(json)).toThrow(FaultPlanError);
    },
  );

  it('wraps only the stores a plan names, and names the store in reports', async () => {
    const seen: string[] = [];
    const stores = { queue: new Counter(), jobs: new Counter(), close: async () => undefined };
    const wrapped = applyFaultPlans(stores, parseFaultPlans('{"queue":{"hit":{"times":1}}}'), { onFault: (m) => seen.push(m) });
    expect(wrapped.jobs).toBe(stores.jobs);
    expect(wrapped.close).toBe(stores.close);
    await expect(wrapped.queue.hit(1)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(wrapped.queue.hit(1)).resolves.toBe(1);
    expect(seen).toEqual(['queue.hit']);
  });

  it('applies a JSON plan in one call', async () => {
    const wrapped = applyFaultPlan({ jobs: new Counter() }, '{"jobs":{"hit":{"error":"permanent"}}}');
    await expect(wrapped.jobs.hit(1)).rejects.toBeInstanceOf(StorePermanentError);
  });
});
