import type { JobOptions } from '../jobs/types.js';
import type { Principal } from './context.js';
import { BadRequestError } from './errors.js';

/**
 * The most candidates a client key may ask for per face. More would let any client list the
 * gallery's names with distances for an arbitrary image; operators are not limited (1..100).
 */
export const CLIENT_MAX_TOP_K = 5;

/**
 * A client key may only tighten the match rule: its `threshold` is at most the configured
 * default (a larger one would name any stranger instead of `unknown`), its `margin` and
 * `minQuality` at least the defaults, and its `topK` at most
 * {@link CLIENT_MAX_TOP_K} (or the configured default topK, when an operator set that higher).
 * Beyond either it gets a 400 rather than a silent clamp. Operators
 * (and every request when auth is off, which acts as an operator) are not limited.
 */
export function limitForClient(principal: Principal | undefined, options: JobOptions, defaults: { threshold: number; topK: number; margin?: number; minQuality?: number }): JobOptions {
  if (principal?.role !== 'client') return options;
  // A lower quality minimum names faces the collection judged too poor to name.
  if (defaults.minQuality !== undefined && options.minQuality !== undefined && options.minQuality < defaults.minQuality) {
    throw new BadRequestError(`a client key's minQuality may be no less than ${defaults.minQuality} (the collection's); larger values are stricter`, {
      code: 'min-quality-below-default',
    });
  }
  // A smaller margin names more ambiguous faces, so it loosens the rule as a larger threshold does.
  if (defaults.margin !== undefined && options.margin !== undefined && options.margin < defaults.margin) {
    throw new BadRequestError(`a client key's margin may be no less than ${defaults.margin} (the configured default); larger values are stricter`, {
      code: 'margin-below-default',
    });
  }
  if (options.threshold > defaults.threshold) {
    throw new BadRequestError(`a client key's threshold may be at most ${defaults.threshold} (the configured default); lower values are stricter`, {
      code: 'threshold-above-default',
    });
  }
  const maxTopK = Math.max(CLIENT_MAX_TOP_K, defaults.topK);
  if (options.topK > maxTopK) {
    throw new BadRequestError(`a client key may ask for at most ${maxTopK} candidates (topK)`, { code: 'top-k-above-client-limit' });
  }
  return options;
}
