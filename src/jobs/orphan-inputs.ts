import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { BlobStore, JobStore } from '../store/ports.js';

/**
 * How old an input blob without a job must be before the sweep deletes it, seconds. The web
 * tier writes the blob first and the job a moment later; a quarter of an hour is far past any
 * request's deadline, so a blob whose job is merely slow to appear is never taken.
 */
export const ORPHAN_GRACE_SECONDS = 900;
/** Blobs looked at per sweep; the rest wait for the next one. */
const SWEEP_LIMIT = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Delete input blobs (`inputs/<shard>/<job id>`) older than `graceSeconds` whose job does not
 * exist: what a request left behind when it failed between storing the image and creating the
 * job, and could not clean up itself; and the blobs of a search (`searches/<id>/...`) as old,
 * whose web tier gave up before the answer came. Returns how many were deleted. A store without
 * `listOlderThan` is not swept (returns 0).
 */
export async function sweepOrphanInputs(
  deps: { blobs: BlobStore; jobs: JobStore; log?: Logger },
  options: { graceSeconds?: number; now?: Date } = {},
): Promise<number> {
  const { blobs, jobs } = deps;
  const log = deps.log ?? silentLogger();
  if (!blobs.listOlderThan) return 0;
  const before = new Date((options.now ?? new Date()).getTime() - (options.graceSeconds ?? ORPHAN_GRACE_SECONDS) * 1000);
  let deleted = 0;
  for (const key of await blobs.listOlderThan('inputs/', before, SWEEP_LIMIT)) {
    const id = key.split('/').pop() ?? '';
    if (!UUID.test(id)) continue;
    if ((await jobs.get(id)) !== null) continue;
    await blobs.delete(key);
    deleted++;
    log.info({ key, jobId: id }, 'orphan input deleted: no job has it');
  }
  // A "seen before?" search's blobs live seconds (src/unknowns/search.ts); older ones were left
  // by a web tier that gave up before the worker answered. No record stands behind them.
  for (const key of await blobs.listOlderThan('searches/', before, SWEEP_LIMIT)) {
    await blobs.delete(key);
    deleted++;
    log.info({ key }, 'orphan search blob deleted');
  }
  return deleted;
}
