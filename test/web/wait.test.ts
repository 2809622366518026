import { describe, expect, it } from 'vitest';
import type { JobRecord, JobState } from '../../src/jobs/types.js';
import { VersionBatcher, waitForJob } from '../../src/web/wait.js';

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

describe('waitForJob with a version probe', () => {
  it('reads the whole record only when the version moved, and returns the terminal one', async () => {
    let version = 0, reads = 0, probes = 0;
    const read = async (): Promise<JobRecord> => {
      reads++;
      return { ...record(version >= 3 ? 'done' : 'queued'), version };
    };
    const probe = async (): Promise<number | undefined> => {
      probes++;
      if (probes % 4 === 0) version++; // the job moves every fourth look
      return version;
    };
    const got = await waitForJob(read, { timeoutMs: 10_000, poll: fast, version: probe });
    expect(got?.state).toBe('done');
    expect(got?.version).toBe(3);
    // The first read, then one per version change; the probes ran in between.
    expect(reads).toBe(4);
    expect(probes).toBe(12);
  });

  it('reads again when the job is gone, and returns null', async () => {
    let reads = 0;
    const got = await waitForJob(async () => (reads++ === 0 ? record('queued') : null), { timeoutMs: 10_000, poll: fast, version: async () => undefined });
    expect(got).toBeNull();
    expect(reads).toBe(2);
  });

  it('still times out with the last record when nothing moves', async () => {
    let reads = 0;
    const got = await waitForJob(async () => (reads++, record('processing')), { timeoutMs: 40, poll: fast, version: async () => 0 });
    expect(got?.state).toBe('processing');
    expect(reads).toBe(1);
  });
});

describe('VersionBatcher', () => {
  it('answers every look-up of one event-loop turn with one store call', async () => {
    const calls: string[][] = [];
    const b = new VersionBatcher(async (ids) => {
      calls.push([...ids]);
      return new Map([['a', 1], ['b', 7]]);
    });
    const got = await Promise.all([b.version('a'), b.version('b'), b.version('a'), b.version('gone')]);
    expect(got).toEqual([1, 7, 1, undefined]);
    expect(calls).toEqual([['a', 'b', 'gone']]);
    // A later turn is a new call.
    expect(await b.version('b')).toBe(7);
    expect(calls).toHaveLength(2);
  });

  it('fails every look-up of the batch with the store\'s error', async () => {
    const b = new VersionBatcher(async () => {
      throw new Error('store down');
    });
    const results = await Promise.allSettled([b.version('a'), b.version('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('store down');
  });

  it('lets many waiters on the same gap share one store call per tick', async () => {
    let calls = 0;
    const b = new VersionBatcher(async (ids) => {
      calls++;
      return new Map(ids.map((id) => [id, 0]));
    });
    const poll = { initialMs: 20, maxMs: 20, factor: 1, slowAfterMs: 10_000, slowMaxMs: 20 };
    const waiters = Array.from({ length: 20 }, (_, i) => waitForJob(async () => ({ ...record('queued'), id: `j${i}` }), { timeoutMs: 210, poll, version: b.version }));
    await Promise.all(waiters);
    // ~10 ticks of 20 ms for 20 waiters: without the grid and the batching that is ~200 calls.
    expect(calls).toBeLessThan(40);
  });
});
