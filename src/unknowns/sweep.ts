/**
 * The sweeper's share of unknown clusters, per collection: delete clusters not seen for the
 * collection's `unknownRetentionDays` (with their thumbnails), and, for collections that track
 * unknowns, ask for the nightly `recluster` job (one per collection per UTC day, however many
 * sweepers ask: see recluster-job.ts).
 */
import type { JobRunner } from '../jobs/runner.js';
import type { Logger } from '../log.js';
import type { BlobStore, Gallery } from '../store/ports.js';
import { expireClusters } from './operations.js';
import { bucketOf, submitRecluster } from './recluster-job.js';

const DAY_SECONDS = 86_400;

export interface UnknownSweepDeps {
  gallery: Gallery;
  blobs: BlobStore;
  runner: JobRunner;
  log: Logger;
}

/** What one sweep remembers between runs: the day each collection's recluster was asked for. */
export type UnknownSweepState = Map<string, string>;

export async function sweepUnknowns(
  deps: UnknownSweepDeps,
  options: { now?: Date; maxAttempts: number; nightlyRecluster?: boolean },
  memory: UnknownSweepState = new Map(),
): Promise<{ expired: number; reclusters: number }> {
  const now = options.now ?? new Date();
  let expired = 0;
  let reclusters = 0;
  for (const c of await deps.gallery.listCollections()) {
    const cutoff = new Date(now.getTime() - c.unknownRetentionDays * DAY_SECONDS * 1000);
    const n = await expireClusters(deps, deps.gallery.unknowns(c.name), cutoff);
    if (n > 0) deps.log.info({ collection: c.name, expired: n, retentionDays: c.unknownRetentionDays }, 'unknown clusters expired');
    expired += n;
    const day = bucketOf(now, DAY_SECONDS);
    if (options.nightlyRecluster !== false && c.trackUnknowns && memory.get(c.name) !== day) {
      const { created } = await submitRecluster(deps, { collection: c.name, bucket: `day-${day}`, maxAttempts: options.maxAttempts });
      memory.set(c.name, day);
      if (created) reclusters += 1;
    }
  }
  return { expired, reclusters };
}
