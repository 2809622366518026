/**
 * The BlobStore port's key rules, shared by every adapter: segments of `A-Za-z0-9._-`
 * separated by `/`, no empty, `.` or `..` segment.
 */
import { InvalidKeyError } from './errors.js';

/** Longest key accepted, in characters; S3 allows 1024 bytes and keys here are ASCII. */
export const MAX_KEY_LENGTH = 1024;
/** Longest segment: most filesystems cap a name at 255 bytes. */
const MAX_SEGMENT_LENGTH = 255;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Check `key` against the port's rules and return its segments. Throws InvalidKeyError.
 */
export function validateBlobKey(key: string): string[] {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError('blob key is empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`blob key longer than ${MAX_KEY_LENGTH} characters`);
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || segment.length > MAX_SEGMENT_LENGTH || !SEGMENT.test(segment)) {
      throw new InvalidKeyError(`invalid blob key ${JSON.stringify(key.slice(0, 100))}`, { details: { segment: segment.slice(0, 100) } });
    }
  }
  return segments;
}
