import { FacefleetError } from '../errors.js';

/** No such cluster in the collection (or it is no longer open, for operations that need it open). */
export class ClusterNotFoundError extends FacefleetError {
  readonly code = 'unknown-not-found';
  readonly retryable = false;
}

/** An operation on clusters that cannot be carried out as asked (merge with itself, across collections, ...). */
export class InvalidClusterRequestError extends FacefleetError {
  readonly code = 'invalid-unknown-request';
  readonly retryable = false;
}

/** The identity a cluster is named into does not exist, and `create` was not asked for. */
export class IdentityMissingError extends FacefleetError {
  readonly code = 'identity-missing';
  readonly retryable = false;
}
