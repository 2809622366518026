import { FacefleetError } from '../errors.js';

/** The job's input image is gone from the blob store: retrying will not bring it back. */
export class BlobMissingError extends FacefleetError {
  readonly code = 'blob-missing';
  readonly retryable = false;
}

/** An enroll job without an identity, or a job kind this worker does not know. */
export class InvalidJobError extends FacefleetError {
  readonly code = 'invalid-job';
  readonly retryable = false;
}
