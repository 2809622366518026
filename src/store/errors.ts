import { FacefleetError, type FacefleetErrorOptions } from '../errors.js';

/** A conditional write lost: the record's version moved on since it was read. Reload and decide again. */
export class VersionConflictError extends FacefleetError {
  readonly code = 'version-conflict';
  readonly retryable = true;
}

/** The key, job, identity, queue or message does not exist. */
export class NotFoundError extends FacefleetError {
  readonly code = 'not-found';
  readonly retryable = false;
}

/** Create-if-absent found the record already there. */
export class AlreadyExistsError extends FacefleetError {
  readonly code = 'already-exists';
  readonly retryable = false;
}

/**
 * The intake created the job but could not send its message (see `JobIntake`): the job stands
 * `queued` without it, and the sweeper sends it. Retryable; the cause says why.
 */
export class JobNotSentError extends FacefleetError {
  readonly code = 'job-not-sent';
  readonly retryable = true;
}

/** The backing store or queue did not answer (down, throttled, 5xx). Retry with backoff. */
export class StoreUnavailableError extends FacefleetError {
  readonly code = 'store-unavailable';
  readonly retryable = true;
}

/** The store refused the call for a reason retrying will not fix (bad request, access denied, too large). */
export class StorePermanentError extends FacefleetError {
  readonly code = 'store-permanent';
  readonly retryable = false;
}

/** A page cursor the store cannot read: tampered with, truncated, or issued by another adapter. The caller's mistake. */
export class InvalidCursorError extends StorePermanentError {
  constructor(message = 'invalid page cursor', options?: FacefleetErrorOptions) {
    super(message, options);
  }
}

/** A key for the blob store that could escape its root or is otherwise unusable. */
export class InvalidKeyError extends FacefleetError {
  readonly code = 'invalid-key';
  readonly retryable = false;
}
