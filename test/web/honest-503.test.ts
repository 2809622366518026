/**
 * A 503 that says "nothing was kept" keeps nothing (issue 14, defect 3): a blob write that
 * lands after the request's deadline is deleted once it settles, and the sweeper deletes input
 * blobs older than a grace period that no job refers to.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepOrphanInputs } from '../../src/jobs/orphan-inputs.js';
import type { BlobStore } from '../../src/store/ports.js';
import { searchAnswerKey, searchInputKey } from '../../src/unknowns/search.js';
import { inputKey } from '../../src/web/submit.js';
import { uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { eventually } from '../helpers/stack.js';
import { allJobs, filesUnder, startHarness } from './harness.js';

/** A blob store whose puts take `ms` before they really write. */
function slowPuts(blobs: BlobStore, ms: number): BlobStore {
  return Object.assign(Object.create(blobs) as BlobStore, {
    // Without it the web tier would use the real store's two-step put and miss the delay.
    putVisible: undefined,
    async put(...args: Parameters<BlobStore['put']>) {
      await new Promise((r) => setTimeout(r, ms));
      return blobs.put(...args);
    },
  });
}

describe('honest 503s', () => {
  it('a blob written after the submit timed out is deleted: nothing is left behind', async () => {
    const h = await startHarness({ tuning: { storeTimeoutMs: 150 }, wrap: (s) => ({ blobs: slowPuts(s.blobs, 600) }) });
    try {
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() });
      expect(res.status).toBe(503);
      expect(res.json.detail).toMatch(/nothing was kept/);
      // The write lands ~0.45 s after the 503; give it and the delete time, then look.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await filesUnder(path.join(h.dataDir, 'blobs', 'inputs'))).toEqual([]);
      expect(await allJobs(h.stores.jobs)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('the sweep deletes old input blobs without a job, and keeps fresh ones and ones with a job', async () => {
    const h = await startHarness({ noStart: true });
    try {
      const blobs = h.stores.blobs;
      const orphan = inputKey('0a1b2c3d-0000-4000-8000-000000000001');
      const fresh = inputKey('0a1b2c3d-0000-4000-8000-000000000002');
      const owned = inputKey('0a1b2c3d-0000-4000-8000-000000000003');
      for (const key of [orphan, fresh, owned]) await blobs.put(key, Buffer.from('x'));
      await h.runner.create({ id: owned.split('/').pop()!, kind: 'recognize', input: { key: owned, contentType: 'image/jpeg', bytes: 1 }, options: { topK: 3, threshold: 0.6 }, maxAttempts: 3 });
      const old = new Date(Date.now() - 3_600_000);
      for (const key of [orphan, owned]) await fs.utimes(path.join(h.dataDir, 'blobs', key), old, old);
      expect(await sweepOrphanInputs({ blobs, jobs: h.stores.jobs }, { graceSeconds: 900 })).toBe(1);
      expect(await blobs.exists(orphan)).toBe(false);
      expect(await blobs.exists(fresh)).toBe(true);
      expect(await blobs.exists(owned)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it("deletes a search's blobs left behind by a web tier that gave up, and keeps a search in progress", async () => {
    const h = await startHarness({ noStart: true });
    try {
      const blobs = h.stores.blobs;
      const [left, running] = [searchAnswerKey('0a1b2c3d-0000-4000-8000-000000000005'), searchInputKey('0a1b2c3d-0000-4000-8000-000000000006')];
      for (const key of [left, running]) await blobs.put(key, Buffer.from('x'));
      const old = new Date(Date.now() - 3_600_000);
      await fs.utimes(path.join(h.dataDir, 'blobs', left), old, old);
      expect(await sweepOrphanInputs({ blobs, jobs: h.stores.jobs }, { graceSeconds: 900 })).toBe(1);
      expect(await blobs.exists(left)).toBe(false);
      expect(await blobs.exists(running)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it("the web tier's sweeper runs it", async () => {
    const h = await startHarness({ web: { sweepIntervalSeconds: 0.2 }, tuning: { orphanGraceSeconds: 0.5 } });
    try {
      const orphan = inputKey('0a1b2c3d-0000-4000-8000-000000000004');
      await h.stores.blobs.put(orphan, Buffer.from('x'));
      await eventually(async () => !(await h.stores.blobs.exists(orphan)), 10_000, 'the orphan to be swept');
    } finally {
      await h.close();
    }
  });
});
