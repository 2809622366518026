import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FacefleetError } from '../../src/errors.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { withFaults } from '../../src/store/faults.js';
import { inputKey } from '../../src/web/submit.js';
import { request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { allJobs, filesUnder, startHarness, type Harness } from './harness.js';

class FakeCircuitOpenError extends FacefleetError {
  readonly code = 'circuit-open';
  readonly retryable = true;
  readonly retryAfterSeconds = 7;
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function nothingStored(h: Harness): Promise<void> {
  expect(await allJobs(h.stores.jobs)).toEqual([]);
  expect(await filesUnder(path.join(h.dataDir, 'blobs'))).toEqual([]);
  expect((await h.stores.queue.depth()).visible).toBe(0);
}

function expect503(res: { status: number; headers: Headers; json: any }): void {
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(res.json).toMatchObject({ status: 503, title: 'Service unavailable', requestId: expect.any(String) });
}

describe('store failures on submit', () => {
  it('blob store down: 503 and nothing stored', async () => {
    const h = await startHarness({ wrap: (s) => ({ blobs: withFaults(s.blobs, { put: { times: 1 } }) }) });
    try {
      expect503(await uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() }));
      await nothingStored(h);
    } finally {
      await h.close();
    }
  });

  it('job store down on create: 503, and the stored blob is deleted again', async () => {
    const h = await startHarness({ wrap: (s) => ({ jobs: withFaults(s.jobs, { create: { times: 1 } }) }) });
    try {
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() });
      expect503(res);
      expect(res.json.jobId).toBeUndefined();
      await nothingStored(h);
    } finally {
      await h.close();
    }
  });

  it('image visible but its flush to disk fails: 503 naming the job, which stays queued with its image', async () => {
    const h = await startHarness({
      wrap: ({ blobs }) => ({
        blobs: Object.assign(Object.create(blobs) as typeof blobs, {
          async putVisible(...args: Parameters<NonNullable<typeof blobs.putVisible>>) {
            await blobs.putVisible!(...args);
            const durable = Promise.reject(new StoreUnavailableError('disk flush failed'));
            durable.catch(() => undefined); // awaited later by the web tier
            return { durable };
          },
        }),
      }),
    });
    try {
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() });
      expect503(res);
      const id = res.json.jobId as string;
      expect(id, JSON.stringify(res.json)).toEqual(expect.any(String));
      expect(await h.stores.blobs.exists(inputKey(id))).toBe(true);
      expect((await h.stores.jobs.get(id))?.state).toBe('queued');
    } finally {
      await h.close();
    }
  });

  it('queue down on enqueue: 503 naming the job, which the sweeper still gets queued', async () => {
    const h = await startHarness({
      web: { sweepIntervalSeconds: 0.1, sweepStaleSeconds: 0 },
      wrap: (s) => ({ queue: withFaults(s.queue, { send: { times: 1 } }) }),
    });
    try {
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() });
      expect503(res);
      const id = res.json.jobId as string;
      expect(await h.stores.blobs.exists(inputKey(id))).toBe(true);
      const deadline = Date.now() + 10_000;
      let messages: string[] = [];
      while (Date.now() < deadline && messages.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        messages = (await h.stores.queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 60 })).map((m) => m.body.jobId);
      }
      expect(messages).toContain(id);
      expect((await h.stores.jobs.get(id))?.state).toBe('queued');
    } finally {
      await h.close();
    }
  });

  it('a store that hangs is cut off by the deadline: 503, not a hung request', async () => {
    const h = await startHarness({
      tuning: { storeTimeoutMs: 200, readyTimeoutMs: 200 },
      wrap: (s) => ({ jobs: withFaults(s.jobs, { get: { delayMs: 20_000 }, ping: { delayMs: 20_000 } }) }),
    });
    try {
      expect503(await within(10_000, request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`)));
      const ready = await within(10_000, request(`${h.url}/readyz`));
      expect503(ready);
      expect(ready.json.failing).toEqual(['jobs']);
    } finally {
      await h.close();
    }
  });
});

describe('circuit breaker', () => {
  it('while open, every store-backed route answers 503 with its Retry-After at once, and /readyz fails', async () => {
    const breaker = {
      state: () => 'open',
      call: <T>(): Promise<T> => Promise.reject(new FakeCircuitOpenError('circuit open')),
    };
    const h = await startHarness({ breaker });
    try {
      const jpeg = await validJpeg();
      for (const res of [
        await within(5_000, uploadFile(`${h.url}/v1/jobs`, { data: jpeg })),
        await within(5_000, uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg })),
        await within(5_000, request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`)),
        await within(5_000, request(`${h.url}/v1/identities`)),
      ]) {
        expect503(res);
        expect(res.headers.get('retry-after')).toBe('7');
      }
      const ready = await request(`${h.url}/readyz`);
      expect503(ready);
      expect(ready.json).toMatchObject({ breaker: 'open', checks: { blobs: 'ok', jobs: 'ok', queue: 'ok', gallery: 'ok' } });
      await nothingStored(h);
      expect((await request(`${h.url}/healthz`)).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('the default breaker opens after repeated store failures and then fails fast without touching the store', async () => {
    let calls = 0;
    const h = await startHarness({
      wrap: (s) => ({
        jobs: withFaults(s.jobs, { get: {}, ping: {} }, { onFault: () => (calls += 1) }),
        blobs: withFaults(s.blobs, { put: {} }),
      }),
    });
    try {
      for (let i = 0; i < 10; i++) expect503(await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`));
      const before = calls;
      const res = await within(5_000, uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() }));
      expect503(res);
      expect(res.json.detail).toMatch(/circuit breaker is open/);
      expect(calls).toBe(before);
      const ready = await request(`${h.url}/readyz`);
      expect503(ready);
      expect(ready.json.breaker).toBe('open');
      expect(ready.json.failing).toContain('jobs');
      expect(await allJobs(h.stores.jobs)).toEqual([]);
      expect(await filesUnder(path.join(h.dataDir, 'blobs'))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
