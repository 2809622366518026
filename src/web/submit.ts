import { randomUUID } from 'node:crypto';
import type { JobRunner } from '../jobs/runner.js';
import type { JobKind, JobOptions, JobRecord } from '../jobs/types.js';
import type { Logger } from '../log.js';
import { JobNotSentError } from '../store/errors.js';
import type { BlobStore, JobStore } from '../store/ports.js';
import { ServiceUnavailableError } from './errors.js';
import { discardLateWrite } from './late-writes.js';
import { DEFAULT_RETRY_AFTER_SECONDS, toHttpError } from './problem.js';
import type { ReceivedImage } from './upload.js';

/** Runs a store call through the circuit breaker (and its deadline). */
export type Guard = <T>(fn: () => Promise<T>) => Promise<T>;

/** What {@link submitJob} writes to. */
export interface SubmitDeps {
  blobs: BlobStore;
  jobs: JobStore;
  runner: JobRunner;
  guard: Guard;
  /** Attempt budget of new jobs. */
  maxAttempts: number;
}

/**
 * The blob key of a new job's uploaded image: `inputs/<first two characters of the id>/<id>`,
 * 256 shared directories (job ids are UUIDs) instead of a new directory per job, so the local
 * blob store makes no directory per upload. The key is stored in the job record
 * (`input.key`) and read back from there, never recomputed, so jobs submitted with the
 * earlier layout (`jobs/<id>/input`) keep working.
 */
export function inputKey(jobId: string): string {
  return `inputs/${jobId.slice(0, 2)}/${jobId}`;
}

function unavailable(err: unknown, message: string, jobId?: string): ServiceUnavailableError {
  const http = toHttpError(err, { maxUploadBytes: 0 });
  const known = http instanceof ServiceUnavailableError;
  const retryAfterSeconds = known ? http.retryAfterSeconds : DEFAULT_RETRY_AFTER_SECONDS;
  return new ServiceUnavailableError(known ? `${message} (${http.message})` : message, {
    cause: err,
    retryAfterSeconds,
    extensions: jobId ? { jobId } : undefined,
  });
}

/**
 * Accept a validated upload as a job: store the blob, then take the job in with its message
 * through the intake (`JobRunner.submit`: one transaction on SQLite, create then send
 * elsewhere), and resolve only when both are done. On failure it throws a 503 and leaves
 * nothing half-written that would not heal:
 * - the blob failed: nothing was stored;
 * - the job was not created: the blob is deleted unless the job turns out to exist after all
 *   (an ambiguous write), in which case the sweeper queues it;
 * - the job was created but its message not sent (JobNotSentError): the job stands `queued`,
 *   and the sweeper (`sweepStuckJobs`) sends it, so the job still ends up processed. The 503
 *   names its `jobId` so a client may poll it instead of uploading again.
 *
 * Returns the record and `request.log` bound to the job's id (one child logger per request).
 */
export async function submitJob(
  deps: SubmitDeps,
  request: { kind: JobKind; image: ReceivedImage; options: JobOptions; log: Logger },
): Promise<{ record: JobRecord; log: Logger }> {
  const id = randomUUID();
  const key = inputKey(id);
  const log = request.log.child({ jobId: id });
  const pending: { write?: Promise<void> } = {};
  try {
    await deps.guard(() => (pending.write = deps.blobs.put(key, request.image.buffer, { contentType: request.image.contentType })));
  } catch (err) {
    // The write may still land after its deadline: delete it once it settles, so "nothing was kept" holds.
    if (pending.write) void discardLateWrite(deps.blobs, key, pending.write, log);
    log.warn({ err }, 'upload not stored');
    throw unavailable(err, 'the image could not be stored; nothing was kept, retry later');
  }

  const job = {
    id,
    kind: request.kind,
    input: { key, contentType: request.image.contentType, bytes: request.image.buffer.length, filename: request.image.filename },
    options: request.options,
    maxAttempts: deps.maxAttempts,
  };
  let record: JobRecord;
  try {
    record = await deps.guard(() => deps.runner.submit(job));
  } catch (err) {
    if (err instanceof JobNotSentError) {
      log.warn({ err }, 'job created but not enqueued; the sweeper will queue it');
      throw unavailable(err, 'the job was stored but could not be queued yet; it will be queued shortly, poll it by its id', id);
    }
    // Not through the breaker: cleanup must run even while it is open.
    const exists = await deps.jobs.get(id).then(
      (r) => r !== null,
      () => false,
    );
    if (!exists) await deps.blobs.delete(key).catch((e: unknown) => log.warn({ err: e, key }, 'orphan upload not deleted'));
    log.warn({ err, kept: exists }, 'job not created');
    throw unavailable(err, 'the job could not be created; retry later', exists ? id : undefined);
  }

  log.info({ kind: request.kind, bytes: request.image.buffer.length }, 'job accepted');
  return { record, log };
}
