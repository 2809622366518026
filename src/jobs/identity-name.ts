import { FacefleetError } from '../errors.js';

/**
 * The rule, as the API's errors state it. A name must hold a letter or digit, so `.`, `..`, `-`
 * and `'_'` are refused (`Location: /v1/identities/..` would resolve to `/v1/`), and it may not
 * start or end with a space, so `" amy"` cannot be a second `amy`.
 */
export const IDENTITY_NAME_RULE = "1 to 64 characters: letters, digits, space, and . _ ' -, with at least one letter or digit and no leading or trailing space";
const IDENTITY_NAME = /^[A-Za-z0-9 ._'-]{1,64}$/;

export class InvalidIdentityNameError extends FacefleetError {
  readonly code = 'invalid-identity-name';
  readonly retryable = false;
}

/** Throws InvalidIdentityNameError unless `name` follows {@link IDENTITY_NAME_RULE}. */
export function validateIdentityName(name: unknown): string {
  if (typeof name !== 'string' || !IDENTITY_NAME.test(name) || name.trim() !== name || !/[A-Za-z0-9]/.test(name)) {
    throw new InvalidIdentityNameError(`identity name must be ${IDENTITY_NAME_RULE}; got ${JSON.stringify(String(name)).slice(0, 80)}`);
  }
  return name;
}
