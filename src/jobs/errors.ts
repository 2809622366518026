import { FacefleetError, type FacefleetErrorOptions } from '../errors.js';
import type { JobRecord } from './types.js';

/**
 * The transition was saved but one of its effects (send, delete, extend, DLQ cleanup) failed.
 * The job's new state stands; retrying the call, or the sweeper, completes the effect.
 * Retryable when the underlying failure is.
 */
export class JobEffectError extends FacefleetError {
  readonly code = 'job-effect-failed';
  readonly retryable: boolean;
  /** The saved record the effect belonged to. */
  readonly record: JobRecord;
  /** The effect that failed, e.g. `enqueue`. */
  readonly action: string;

  constructor(message: string, options: FacefleetErrorOptions & { record: JobRecord; action: string; retryable: boolean }) {
    super(message, options);
    this.record = options.record;
    this.action = options.action;
    this.retryable = options.retryable;
  }
}

/** A stored job snapshot that is not a job machine snapshot (corrupt or from another program). */
export class CorruptJobSnapshotError extends FacefleetError {
  readonly code = 'job-snapshot-corrupt';
  readonly retryable = false;
}

/** A new job or an operator request that cannot be carried out as given (bad budget, empty selector). */
export class InvalidJobRequestError extends FacefleetError {
  readonly code = 'invalid-job-request';
  readonly retryable = false;
}
