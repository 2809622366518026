/**
 * Builders shared by the tests: job records for the store contracts, descriptors, ISO times
 * from a fixed base, and waiting helpers. (Job records with real machine snapshots, and the
 * in-memory fakes, are in `jobs.ts`.)
 */
import { randomUUID } from 'node:crypto';
import type { JobRecord, JobState } from '../../src/jobs/types.js';
import type { UnknownCluster } from '../../src/store/ports.js';

/**
 * A minimal valid job record for store contracts. `updatedAt` defaults to now; pass one to
 * control list order.
 */
export function aJob(overrides: Partial<JobRecord> = {}): JobRecord {
  const id = overrides.id ?? `job-${randomUUID()}`;
  const at = overrides.updatedAt ?? new Date().toISOString();
  return {
    id,
    version: 0,
    state: 'queued' as JobState,
    kind: 'recognize',
    createdAt: overrides.createdAt ?? at,
    updatedAt: at,
    input: { key: `jobs/${id}/input`, contentType: 'image/jpeg', bytes: 1234, filename: 'face.jpg' },
    options: { topK: 3, threshold: 0.6 },
    snapshot: { value: 'queued', context: { id, attempts: 0, maxAttempts: 3, history: [] } },
    ...overrides,
  };
}

/** An ISO time `seconds` after a fixed base (2026-01-01T00:00:00Z), so times and list order are under the test's control. */
export function at(seconds: number): string {
  return new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();
}

/** A 128-d descriptor with values that survive a Float32 round trip exactly. */
export function aDescriptor(seed = 1): Float32Array {
  const d = new Float32Array(128);
  for (let i = 0; i < d.length; i++) d[i] = Math.fround(Math.sin(seed * 131 + i) * 0.25);
  return d;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Retry `check` until it stops throwing or `timeoutMs` passes (then rethrow its last error).
 * For facts a backend reports approximately or a little late (SQS attribute counts).
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= end) throw err;
      await sleep(everyMs);
    }
  }
}

/** An open unknown cluster at version 0 with one representative (descriptor `aDescriptor(seed)`). */
export function aCluster(seed: number, overrides: Partial<UnknownCluster> = {}): UnknownCluster {
  const when = overrides.firstSeen ?? at(seed);
  return {
    id: `unk_${String(seed).padStart(20, '0')}`,
    version: 0,
    state: 'open',
    firstSeen: when,
    lastSeen: when,
    sightings: 1,
    representatives: [{ id: `rep${seed}`, descriptor: aDescriptor(seed), jobId: `job-${seed}`, at: when }],
    recent: [{ jobId: `job-${seed}`, at: when, box: { x: 1, y: 2, width: 30, height: 30 } }],
    absorbed: [],
    pipeline: 'standard',
    ...overrides,
  };
}
