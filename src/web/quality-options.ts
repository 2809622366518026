/**
 * The quality options of a job, from the request and its collection: a request's own value wins,
 * then the collection's setting, then the service default (`src/recognition/quality.ts`).
 */
import type { JobOptions } from '../jobs/types.js';
import { DEFAULT_MIN_ENROLL_QUALITY, DEFAULT_MIN_QUALITY } from '../recognition/quality.js';
import type { CollectionSettings } from '../store/ports.js';
import { parseFlag, parseLandmarks, parseQuality } from './params.js';

/** Recognition: `minQuality` (request, else the collection's, else {@link DEFAULT_MIN_QUALITY}) and `landmarks`. */
export function recognizeQualityOptions(field: (name: string) => unknown, collection: CollectionSettings): Pick<JobOptions, 'minQuality' | 'landmarks'> {
  const landmarks = parseLandmarks(field('landmarks'));
  return { minQuality: parseQuality(field('minQuality'), 'minQuality', collection.minQuality ?? DEFAULT_MIN_QUALITY), ...(landmarks === 68 ? { landmarks } : {}) };
}

/** Enrollment: the collection's `minEnrollQuality` (else {@link DEFAULT_MIN_ENROLL_QUALITY}), `force` and `landmarks`. */
export function enrollQualityOptions(field: (name: string) => unknown, collection: CollectionSettings): Pick<JobOptions, 'minEnrollQuality' | 'force' | 'landmarks'> {
  const landmarks = parseLandmarks(field('landmarks'));
  const force = parseFlag(field('force'), 'force');
  return { minEnrollQuality: collection.minEnrollQuality ?? DEFAULT_MIN_ENROLL_QUALITY, ...(force ? { force } : {}), ...(landmarks === 68 ? { landmarks } : {}) };
}
