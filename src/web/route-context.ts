import type { Request, RequestHandler, Response } from 'express';
import { jobView } from '../jobs/view.js';
import { InvalidCursorError } from '../store/errors.js';
import type { JobRecord, JobResult } from '../jobs/types.js';
import type { createAuth } from './auth.js';
import { BadRequestError, GatewayTimeoutError, JobFailedError, UnprocessableError } from './errors.js';
import type { WebMetrics } from './metrics.js';
import { IMAGE_ERROR_STATUS } from './problem.js';
import type { Guard } from './submit.js';
import type { WebBreaker, WebDeps, WebTuning } from './types.js';
import type { UploadLimits } from './upload.js';
import type { JobWatch } from './wait.js';

/** Everything a route module needs, built once by `createWebApp`. */
export interface RouteContext {
  deps: WebDeps;
  tuning: WebTuning;
  guard: Guard;
  breaker: WebBreaker;
  auth: ReturnType<typeof createAuth>;
  rateLimit: RequestHandler;
  /** Multipart parsing of one file in `field` (see `upload.ts`). */
  multipart(field: string): RequestHandler;
  metrics: WebMetrics;
  limits: UploadLimits;
  /** Aborts when the client goes away or the server is closing: long-polls stop at once. */
  requestSignal(req: Request, res: Response): AbortSignal;
  /** Every long-poll's wait on one clock (undefined without `JobStore.versions`: each long-poll reads on its own). */
  jobWatch?: JobWatch;
}

/** The 202 body: where to poll. */
export function acceptedBody(record: JobRecord): { id: string; state: string; links: { self: string } } {
  return { id: record.id, state: record.state, links: { self: jobLink(record.id) } };
}

/** The path of a job's resource. */
export function jobLink(id: string): string {
  return `/v1/jobs/${id}`;
}

/** Answer 202 with the job link and `Location`, and any `extra` fields. */
export function sendAccepted(res: Response, record: JobRecord, extra: Record<string, unknown> = {}): void {
  res.status(202).location(jobLink(record.id)).json({ ...acceptedBody(record), ...extra });
}

/** Job error codes that say the input itself cannot be used: the client's problem, 422. */
const INPUT_ERROR_CODES = new Set([...Object.keys(IMAGE_ERROR_STATUS), 'no-face', 'multiple-faces', 'invalid-identity-name']);

/**
 * The error for a job that was submitted and waited for but did not finish `done`:
 * dead-lettered on its input is 422, dead-lettered otherwise 502, still running 504.
 */
export function unfinishedJobError(record: JobRecord | null, jobId: string, extra: Record<string, unknown> = {}): Error {
  if (!record || record.state !== 'dead-lettered') {
    return new GatewayTimeoutError('the job did not finish in time; poll it by its id', { extensions: { jobId, links: { self: jobLink(jobId) }, ...extra } });
  }
  const view = jobView(record);
  const code = view.error?.code;
  const extensions = { jobId, reason: view.deadLetterReason, error: view.error, ...extra };
  if (code && INPUT_ERROR_CODES.has(code)) {
    return new UnprocessableError(view.error?.message ?? view.deadLetterReason ?? 'the image cannot be used', { code, extensions });
  }
  return new JobFailedError(`the job failed: ${view.deadLetterReason ?? view.error?.message ?? 'unknown reason'}`, { extensions });
}

/**
 * The enrollment result of a finished enroll job: its `enrolled` face, or a 422 when the image
 * was refused (no face, several without `largest`, or a face under `minEnrollQuality` without
 * `force`: code `low-quality`, with the measure to blame as `reason`). The refusal is the job's answer, so the
 * job is `done`; the client still hears it as its mistake. The problem codes are those a
 * dead-lettered enrollment used to answer with. `extra` goes into the problem (e.g. the job's
 * `callback`, whose secret the submit answer must show whatever the outcome).
 */
export function enrollmentOf(record: JobRecord, extra: Record<string, unknown> = {}): NonNullable<JobResult['enrolled']> | undefined {
  const result = jobView(record).result;
  const refused = result?.refused;
  if (refused) {
    const code = refused.reason === 'no-face' ? 'no-face' : refused.reason === 'several-faces' ? 'multiple-faces' : 'low-quality';
    const quality = refused.quality ? { quality: refused.quality, minEnrollQuality: refused.minEnrollQuality } : {};
    throw new UnprocessableError(refused.message, { code, extensions: { jobId: record.id, reason: refused.reason, faces: refused.faces, ...quality, ...extra } });
  }
  return result?.enrolled;
}

/**
 * Run a paged listing; a cursor the store cannot read (tampered, or from another backend) is
 * the client's mistake, 400, not a server error.
 */
export async function withCursor<T>(cursor: string | undefined, list: () => Promise<T>): Promise<T> {
  try {
    return await list();
  } catch (err) {
    if (cursor !== undefined && err instanceof InvalidCursorError) {
      throw new BadRequestError('the cursor is not valid; start again without it', { code: 'bad-cursor', cause: err });
    }
    throw err;
  }
}
