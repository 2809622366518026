/**
 * `recluster` as a durable job: a record and a message like any other job, so it is retried,
 * dead-lettered, replayed and expired by the same machinery. Its id is derived from the
 * collection and a time bucket, so however many workers (or sweeps) ask for it within one bucket,
 * one job is created: the others find it exists.
 */
import { createHash } from 'node:crypto';
import type { JobRunner } from '../jobs/runner.js';
import type { JobRecord } from '../jobs/types.js';
import { AlreadyExistsError } from '../store/errors.js';
import type { BlobStore } from '../store/ports.js';

/** A UUID-shaped id from the collection and bucket (job ids are UUIDs over HTTP). */
export function reclusterJobId(collection: string, bucket: string): string {
  const h = createHash('sha256').update(`recluster\u0000${collection}\u0000${bucket}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface ReclusterRequest {
  collection: string;
  /** Requests with the same bucket make one job (e.g. the minute, or the day of the nightly run). */
  bucket: string;
  maxAttempts: number;
  /** Queue the job this many seconds late (a job for a bucket that has not begun). */
  delaySeconds?: number;
}

/** Create and queue the recluster job of `bucket`, or find the one already made. Returns its id and whether it was new. */
export async function submitRecluster(deps: { blobs: BlobStore; runner: JobRunner }, request: ReclusterRequest): Promise<{ jobId: string; created: boolean }> {
  const id = reclusterJobId(request.collection, request.bucket);
  const key = `inputs/${id.slice(0, 2)}/${id}`;
  const body = Buffer.from(JSON.stringify({ collection: request.collection }));
  await deps.blobs.put(key, body, { contentType: 'application/json' });
  let record: JobRecord;
  try {
    record = await deps.runner.create({
      id,
      kind: 'recluster',
      input: { key, contentType: 'application/json', bytes: body.length },
      options: { topK: 0, threshold: 0, collection: request.collection },
      maxAttempts: request.maxAttempts,
    });
  } catch (err) {
    if (err instanceof AlreadyExistsError) return { jobId: id, created: false };
    throw err;
  }
  await deps.runner.dispatch(record.id, { type: 'ENQUEUE', ...(request.delaySeconds ? { delaySeconds: request.delaySeconds } : {}) });
  return { jobId: id, created: true };
}

/**
 * Ask for a recluster of `collection` soon, at most one job per bucket of `seconds`: this
 * bucket's job, or, when this bucket's job already exists (it may have run before the request's
 * cause, a cluster just made), the next bucket's, queued to run when that bucket begins. So every
 * request is followed by a run that sees what prompted it, within two buckets.
 */
export async function requestRecluster(
  deps: { blobs: BlobStore; runner: JobRunner },
  request: { collection: string; now: Date; seconds: number; maxAttempts: number },
): Promise<{ jobId: string; created: boolean }> {
  // The next bucket's message waits up to a bucket: at most the queue's 900 s. A wait longer
  // than the sweeper's stale age (FACEFLEET_SWEEP_STALE, default 120 s; the worker's buckets are
  // 60 s) may be cut short by a sweep, which only runs the job early.
  if (!(request.seconds > 0 && request.seconds <= 900)) throw new RangeError(`recluster buckets of ${request.seconds} s: want 1 to 900`);
  const bucket = Number(bucketOf(request.now, request.seconds));
  const current = await submitRecluster(deps, { collection: request.collection, bucket: String(bucket), maxAttempts: request.maxAttempts });
  if (current.created) return current;
  const nextStartsIn = ((bucket + 1) * request.seconds * 1000 - request.now.getTime()) / 1000;
  return submitRecluster(deps, { collection: request.collection, bucket: String(bucket + 1), maxAttempts: request.maxAttempts, delaySeconds: Math.ceil(nextStartsIn) });
}

/** The bucket of a request made at `now` for buckets of `seconds`. */
export function bucketOf(now: Date, seconds: number): string {
  return String(Math.floor(now.getTime() / (seconds * 1000)));
}
