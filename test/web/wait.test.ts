import { describe, expect, it } from 'vitest';
import type { JobRecord, JobState } from '../../src/jobs/types.js';
import { waitForJob } from '../../src/web/wait.js';

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
