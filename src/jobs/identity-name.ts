import { FacefleetError } from '../errors.js';

export const IDENTITY_NAME_RULE = "1 to 64 characters: letters, digits, space, and . _ ' -";
const IDENTITY_NAME = /^[A-Za-z0-9 ._'-]{1,64}$/;

export class InvalidIdentityNameError extends FacefleetError {
  readonly code = 'invalid-identity-name';
  readonly retryable = false;
}

/** Throws InvalidIdentityNameError unless `name` follows {@link IDENTITY_NAME_RULE} and is not blank. */
export function validateIdentityName(name: unknown): string {
  if (typeof name !== 'string' || !IDENTITY_NAME.test(name) || name.trim() === '') {
    throw new InvalidIdentityNameError(`identity name must be ${IDENTITY_NAME_RULE}; got ${JSON.stringify(String(name)).slice(0, 80)}`);
  }
  return name;
}
