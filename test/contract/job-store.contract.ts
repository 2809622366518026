import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/jobs/types.js';
import { JOB_STATES } from '../../src/jobs/types.js';
import type { JobStore } from '../../src/store/ports.js';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../../src/store/errors.js';
import { filesContaining } from '../helpers/residue.js';
import { aJob, at } from '../helpers/builders.js';

export interface JobStoreHarness {
  jobs: JobStore;
  /**
   * The directory the store keeps its files in, for a local backend: the deletion test then also
   * searches every file under it for the deleted job's bytes. Absent (AWS): gone means not found.
   */
  dataDir?: string;
  cleanup(): Promise<void>;
}

/** The JobStore contract. `make` gives a fresh, empty store. */
export function jobStoreContract(name: string, make: () => Promise<JobStoreHarness>): void {
  describe(`JobStore contract: ${name}`, () => {
    let h: JobStoreHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.jobs.close();
      await h.cleanup();
    });

    it('answers ping', async () => {
      await expect(h.jobs.ping()).resolves.toBeUndefined();
    });

    it('creates a job and reads it back unchanged', async () => {
      const job = aJob({ snapshot: { value: 'queued', nested: { list: [1, 'two', null], flag: true } } });
      await h.jobs.create(job);
      expect(await h.jobs.get(job.id)).toEqual(job);
    });

    it('returns null for an unknown id', async () => {
      expect(await h.jobs.get('job-unknown')).toBeNull();
    });

    it('refuses a second create of the same id with AlreadyExistsError, keeping the first', async () => {
      const job = aJob();
      await h.jobs.create(job);
      await expect(h.jobs.create({ ...job, state: 'uploaded' })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await h.jobs.get(job.id))?.state).toBe(job.state);
    });

    it('saves when the version matches, bumping it by one', async () => {
      const job = aJob({ state: 'queued' });
      await h.jobs.create(job);
      const saved = await h.jobs.save({ ...job, state: 'processing', updatedAt: at(10) }, 0);
      expect(saved.version).toBe(1);
      expect(saved.state).toBe('processing');
      expect(await h.jobs.get(job.id)).toEqual(saved);
      const again = await h.jobs.save({ ...saved, state: 'done', updatedAt: at(20) }, 1);
      expect(again.version).toBe(2);
      expect((await h.jobs.get(job.id))?.version).toBe(2);
    });

    it('throws VersionConflictError when the version moved on, and keeps the stored record', async () => {
      const job = aJob();
      await h.jobs.create(job);
      const saved = await h.jobs.save({ ...job, state: 'processing' }, 0);
      await expect(h.jobs.save({ ...job, state: 'done' }, 0)).rejects.toBeInstanceOf(VersionConflictError);
      expect(await h.jobs.get(job.id)).toEqual(saved);
    });

    it('lets exactly one of two concurrent savers from the same version win', async () => {
      const job = aJob();
      await h.jobs.create(job);
      const results = await Promise.allSettled([
        h.jobs.save({ ...job, state: 'processing', snapshot: { by: 'a' } }, 0),
        h.jobs.save({ ...job, state: 'done', snapshot: { by: 'b' } }, 0),
      ]);
      const won = results.filter((r): r is PromiseFulfilledResult<JobRecord> => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].reason).toBeInstanceOf(VersionConflictError);
      expect(await h.jobs.get(job.id)).toEqual(won[0].value);
    });

    it('throws NotFoundError when saving a job that does not exist', async () => {
      await expect(h.jobs.save(aJob(), 0)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists a state oldest updatedAt first, paging with a cursor', async () => {
      const times = [50, 10, 40, 20, 30];
      const queued = times.map((t) => aJob({ state: 'queued', updatedAt: at(t) }));
      for (const job of queued) await h.jobs.create(job);
      await h.jobs.create(aJob({ state: 'done', updatedAt: at(5) }));

      const seen: JobRecord[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await h.jobs.listByState('queued', { limit: 2, cursor });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items);
        cursor = page.cursor;
        pages += 1;
        expect(pages).toBeLessThan(10);
      } while (cursor);
      expect(seen.map((j) => j.updatedAt)).toEqual([10, 20, 30, 40, 50].map(at));
      expect(new Set(seen.map((j) => j.id)).size).toBe(5);
      expect(seen.every((j) => j.state === 'queued')).toBe(true);
    });

    it('returns one page without a cursor when everything fits', async () => {
      await h.jobs.create(aJob({ state: 'uploaded' }));
      const page = await h.jobs.listByState('uploaded');
      expect(page.items).toHaveLength(1);
      expect(page.cursor).toBeUndefined();
      expect((await h.jobs.listByState('dead-lettered')).items).toEqual([]);
    });

    it('moves a job between state lists when saved in a new state', async () => {
      const job = aJob({ state: 'queued' });
      await h.jobs.create(job);
      await h.jobs.save({ ...job, state: 'dead-lettered' }, 0);
      expect((await h.jobs.listByState('queued')).items).toEqual([]);
      expect((await h.jobs.listByState('dead-lettered')).items.map((j) => j.id)).toEqual([job.id]);
    });

    it('counts jobs by state, every state present', async () => {
      const empty = await h.jobs.countByState();
      expect(Object.keys(empty).sort()).toEqual([...JOB_STATES].sort());
      expect(Object.values(empty).every((n) => n === 0)).toBe(true);
      await h.jobs.create(aJob({ state: 'queued' }));
      await h.jobs.create(aJob({ state: 'queued' }));
      await h.jobs.create(aJob({ state: 'done' }));
      expect(await h.jobs.countByState()).toEqual({ uploaded: 0, queued: 2, processing: 0, done: 1, 'dead-lettered': 0 });
    });

    it('a deleted job leaves neither its id nor its result behind, in any file of the store', async () => {
      const secret = `result-of-${randomUUID()}`;
      const job = aJob({ state: 'done', snapshot: { value: 'done', context: { result: { note: secret } } } });
      const kept = aJob();
      await h.jobs.create(job);
      await h.jobs.create(kept);
      const saved = await h.jobs.save({ ...job, updatedAt: at(5), snapshot: { value: 'done', context: { result: { note: `${secret}-v2` } } } }, 0);
      await h.jobs.delete(saved.id);
      expect(await h.jobs.get(job.id)).toBeNull();
      expect(await h.jobs.get(kept.id)).not.toBeNull();
      if (h.dataDir !== undefined) {
        expect(await filesContaining(h.dataDir, { id: Buffer.from(job.id), result: Buffer.from(secret) })).toEqual([]);
        // The search can find what is there: the job kept is.
        expect(await filesContaining(h.dataDir, { id: Buffer.from(kept.id) })).not.toEqual([]);
      }
    });

    it('deletes a job; deleting an absent one succeeds', async () => {
      const job = aJob();
      await h.jobs.create(job);
      await h.jobs.delete(job.id);
      expect(await h.jobs.get(job.id)).toBeNull();
      await expect(h.jobs.delete(job.id)).resolves.toBeUndefined();
      await h.jobs.create(job);
      expect((await h.jobs.get(job.id))?.version).toBe(0);
    });
  });
}
