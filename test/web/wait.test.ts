import { describe, expect, it } from 'vitest';
import type { JobRecord, JobState } from '../../src/jobs/types.js';
import { JobWatch, waitForJob } from '../../src/web/wait.js';

function record(state: JobState): JobRecord {
  return { id: 'j', version: 0, state, kind: 'recognize', createdAt: '', updatedAt: '', input: { key: 'k', contentType: 'image/jpeg', bytes: 1 }, options: { topK: 1, threshold: 0.6 }, snapshot: null };
}

const fast = { initialMs: 1, maxMs: 2, factor: 2, slowAfterMs: 50, slowMaxMs: 5 };

describe('waitForJob', () => {
  it('reads until the job is terminal', async () => {
    let reads = 0;
    const got = await waitForJob(async () => record(++reads >= 5 ? 'done' : 'queued'), { timeoutMs: 10_000, poll: fast });
    expect(got?.state).toBe('done');
    expect(reads).toBe(5);
  });

  it('returns the last record when the wait runs out, and null for a missing job', async () => {
    expect((await waitForJob(async () => record('processing'), { timeoutMs: 30, poll: fast }))?.state).toBe('processing');
    let reads = 0;
    expect(await waitForJob(async () => (reads++, null), { timeoutMs: 1_000, poll: fast })).toBeNull();
    expect(reads).toBe(1);
  });

  it('stops at once when the signal aborts', async () => {
    const abort = new AbortController();
    let reads = 0;
    const pending = waitForJob(async () => (reads++, record('queued')), { timeoutMs: 60_000, signal: abort.signal, poll: { ...fast, maxMs: 10_000, slowMaxMs: 10_000, initialMs: 10_000 } });
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    expect((await pending)?.state).toBe('queued');
    expect(reads).toBe(1);
  });
});

/** A store of job versions the tests move by hand, counting the `versions` calls. */
function versionStore() {
  const versions = new Map<string, number>();
  const calls: string[][] = [];
  let failing: Error | undefined;
  return {
    versions,
    calls,
    fail(err: Error | undefined) {
      failing = err;
    },
    lookup: async (ids: string[]) => {
      calls.push([...ids]);
      if (failing) throw failing;
      return new Map(ids.filter((id) => versions.has(id)).map((id) => [id, versions.get(id)!]));
    },
  };
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('JobWatch', () => {
  it('resolves true once the version moves, false when the time runs out', async () => {
    const store = versionStore();
    store.versions.set('a', 1);
    const watch = new JobWatch(store.lookup, fast);
    const moved = watch.changed('a', 1, 5_000);
    await sleepMs(15);
    expect(watch.size).toBe(1);
    store.versions.set('a', 2);
    expect(await moved).toBe(true);
    expect(await watch.changed('a', 2, 30)).toBe(false);
    expect(watch.size).toBe(0);
  });

  it('resolves true for a job that is gone, and when the store fails (the caller\'s read reports it)', async () => {
    const store = versionStore();
    const watch = new JobWatch(store.lookup, fast);
    expect(await watch.changed('gone', 0, 5_000)).toBe(true);
    store.versions.set('b', 0);
    store.fail(new Error('store down'));
    expect(await watch.changed('b', 0, 5_000)).toBe(true);
  });

  it('stops at once when the signal aborts, and not at all when it already had', async () => {
    const store = versionStore();
    store.versions.set('a', 0);
    const watch = new JobWatch(store.lookup, { ...fast, initialMs: 10_000, maxMs: 10_000, slowMaxMs: 10_000 });
    const abort = new AbortController();
    const pending = watch.changed('a', 0, 60_000, abort.signal);
    await sleepMs(10);
    abort.abort();
    expect(await pending).toBe(false);
    expect(await watch.changed('a', 0, 60_000, abort.signal)).toBe(false);
    expect(store.calls).toHaveLength(0);
    expect(watch.size).toBe(0);
  });

  it('answers many waiters with one store call per tick', async () => {
    const store = versionStore();
    for (let i = 0; i < 20; i++) store.versions.set(`j${i}`, 0);
    const watch = new JobWatch(store.lookup, { initialMs: 20, maxMs: 20, factor: 1, slowAfterMs: 10_000, slowMaxMs: 20 });
    const waiters = Array.from({ length: 20 }, (_, i) => watch.changed(`j${i}`, 0, 210));
    expect(await Promise.all(waiters)).toEqual(Array(20).fill(false));
    // ~10 ticks of 20 ms for 20 waiters: one timer per waiter would be ~200 calls.
    expect(store.calls.length).toBeGreaterThan(3);
    expect(store.calls.length).toBeLessThan(20);
    expect(store.calls.some((ids) => ids.length === 20)).toBe(true);
  });

  it('backs off each waiter: quick looks at first, then slower ones', async () => {
    const store = versionStore();
    store.versions.set('a', 0);
    const watch = new JobWatch(store.lookup, { initialMs: 2, maxMs: 8, factor: 2, slowAfterMs: 60, slowMaxMs: 40 });
    await watch.changed('a', 0, 300);
    // 2, 4, 8, 8, ... until 60 ms (~9 looks), then every 40 ms (~6 more): nowhere near 150.
    expect(store.calls.length).toBeGreaterThan(8);
    expect(store.calls.length).toBeLessThan(30);
  });

  it('looks at once at a job reported settled, without waiting for its tick', async () => {
    const store = versionStore();
    store.versions.set('a', 0);
    store.versions.set('b', 0);
    const watch = new JobWatch(store.lookup, { initialMs: 10_000, maxMs: 10_000, factor: 1, slowAfterMs: 10_000, slowMaxMs: 10_000 });
    const a = watch.changed('a', 0, 60_000);
    const b = watch.changed('b', 0, 200);
    store.versions.set('a', 1);
    const t0 = performance.now();
    watch.settled('a');
    watch.settled('a');
    watch.settled('nobody-waits');
    expect(await a).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1_000);
    // One look, at `a` only; `b` keeps waiting (and times out).
    expect(store.calls).toEqual([['a']]);
    expect(await b).toBe(false);
  });

  it('a hint that arrives before the store shows the change does not end the wait', async () => {
    const store = versionStore();
    store.versions.set('a', 0);
    const watch = new JobWatch(store.lookup, { initialMs: 30, maxMs: 30, factor: 1, slowAfterMs: 10_000, slowMaxMs: 30 });
    const a = watch.changed('a', 0, 5_000);
    watch.settled('a');
    await sleepMs(5);
    expect(watch.size).toBe(1);
    store.versions.set('a', 1);
    expect(await a).toBe(true);
  });
});

describe('waitForJob with a JobWatch', () => {
  it('reads the whole record only when the version moved, and returns the terminal one', async () => {
    const store = versionStore();
    store.versions.set('j', 0);
    let reads = 0;
    const read = async (): Promise<JobRecord> => {
      reads++;
      const version = store.versions.get('j')!;
      return { ...record(version >= 3 ? 'done' : 'queued'), version };
    };
    const watch = new JobWatch(store.lookup, fast);
    const mover = setInterval(() => store.versions.set('j', store.versions.get('j')! + 1), 15);
    try {
      const got = await waitForJob(read, { timeoutMs: 10_000, watch });
      expect(got?.state).toBe('done');
      expect(got?.version).toBe(3);
      // The first read, then one per version change at most; the looks ran in between.
      expect(reads).toBeLessThanOrEqual(4);
      expect(store.calls.length).toBeGreaterThan(reads);
    } finally {
      clearInterval(mover);
    }
  });

  it('reads again when the job is gone, and returns null', async () => {
    const store = versionStore();
    let reads = 0;
    const got = await waitForJob(async () => (reads++ === 0 ? record('queued') : null), { timeoutMs: 10_000, watch: new JobWatch(store.lookup, fast) });
    expect(got).toBeNull();
    expect(reads).toBe(2);
  });

  it('times out with the last record when nothing moves, reading it once', async () => {
    const store = versionStore();
    store.versions.set('j', 0);
    let reads = 0;
    const got = await waitForJob(async () => (reads++, record('processing')), { timeoutMs: 40, watch: new JobWatch(store.lookup, fast) });
    expect(got?.state).toBe('processing');
    expect(reads).toBe(1);
  });
});

describe('waitForJob with the record in hand', () => {
  it('starts from it instead of reading first', async () => {
    let reads = 0;
    const got = await waitForJob(async () => (reads++, record('done')), { timeoutMs: 10_000, poll: fast, initial: record('queued') });
    expect(got?.state).toBe('done');
    expect(reads).toBe(1);
    expect((await waitForJob(async () => (reads++, record('queued')), { timeoutMs: 10_000, initial: record('done') }))?.state).toBe('done');
    expect(reads).toBe(1);
  });
});

describe('JobWatch pace across version changes', () => {
  it('keeps backing off through a wait whose job keeps moving (heartbeats), instead of starting quick again', async () => {
    const store = versionStore();
    store.versions.set('j', 0);
    const watch = new JobWatch(store.lookup, { initialMs: 2, maxMs: 4, factor: 2, slowAfterMs: 30, slowMaxMs: 40 });
    // The job moves every 10 ms for 300 ms and never finishes.
    const mover = setInterval(() => store.versions.set('j', store.versions.get('j')! + 1), 10);
    try {
      const got = await waitForJob(async () => ({ ...record('processing'), version: store.versions.get('j')! }), { timeoutMs: 300, watch });
      expect(got?.state).toBe('processing');
    } finally {
      clearInterval(mover);
    }
    // After 30 ms the looks are 40 ms apart: ~8 looks in the first 30 ms, then ~7. A pace that
    // restarted at 2 ms on every change would look ~100 times.
    expect(store.calls.length).toBeLessThan(30);
  });
});
