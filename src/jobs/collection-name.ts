import { FacefleetError } from '../errors.js';

export const COLLECTION_NAME_RULE = '1 to 64 characters: letters, digits, _ and -, starting with a letter or digit';
const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export class InvalidCollectionNameError extends FacefleetError {
  readonly code = 'invalid-collection-name';
  readonly retryable = false;
}

/**
 * Throws InvalidCollectionNameError unless `name` follows {@link COLLECTION_NAME_RULE}. The rule
 * keeps names safe in URLs, blob keys, DynamoDB keys and logs: no `/`, `.`, spaces or markup.
 */
export function validateCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new InvalidCollectionNameError(`collection name must be ${COLLECTION_NAME_RULE}; got ${JSON.stringify(String(name)).slice(0, 80)}`);
  }
  return name;
}

/** Throws RangeError unless `threshold` is a finite number in (0, 2]. */
export function validateCollectionThreshold(threshold: unknown): number {
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 2)) throw new RangeError('threshold must be a number in (0, 2]');
  return threshold;
}
