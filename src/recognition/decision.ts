/**
 * The 1:N decision: given a face's nearest identities, name one or say why not.
 *
 * In 1:N every enrolled identity is one more chance for a stranger to fall near someone, so the
 * 1:1 radius (dlib's 0.6) names most strangers once the gallery holds hundreds of people. The rule
 * here asks three things of the nearest identity:
 * - it is close: distance <= `threshold` (less `marginWeight` x its margin, below), else the reason
 *   is `no-close-identity`;
 * - it stands out from the second: the second-nearest identity is at least `margin` farther, else
 *   `ambiguous` (a face between two people is named neither);
 * - it stands out from the rest of the gallery (cohort normalisation, T-norm style): the next
 *   {@link COHORT_SIZE} identities' distances, taken as the face's own "stranger" distances, have
 *   a mean at least `cohort` of their standard deviations above the nearest distance, else
 *   `ambiguous`. A face that is near everybody (some photos are) is near its nearest identity
 *   by chance, not because it is that person; a face near one identity and far from the rest is.
 *
 *
 * Two weights shape the distances the rule sees (both default to the values tuned with it):
 * - `templateWeight` w: an identity's distance is (1 - w) x its nearest face + w x its template
 *   (the mean of its faces). With one face the two are the same; with several, a stranger who
 *   lands near one of them by chance is still far from their mean, where the person's own next
 *   photo is near both;
 * - `marginWeight` a: the nearest identity is close when d1 - a x (d2 - d1) <= `threshold`, one
 *   score of distance and margin: a face clear of everyone else may lie a little farther.
 *
 * The defaults were chosen on one half of LFW's people and measured on the other
 * (`npm run bench:identify`, docs/identification.md).
 */
import type { Candidate } from './types.js';

export interface MatchRule {
  /** Largest distance to the nearest identity that can still be a match. */
  threshold: number;
  /** Smallest gap from the nearest to the second-nearest identity; 0 turns the check off. */
  margin: number;
  /**
   * Smallest cohort score of the nearest identity: (mean - nearest) / standard deviation over the
   * distances of the next {@link COHORT_SIZE} identities. Absent or 0 turns the check off.
   */
  cohort?: number;
  /**
   * Weight of the margin in the closeness score: close when d1 - marginWeight x (d2 - d1) <=
   * `threshold` (d2 absent: d1 alone). Absent or 0: distance alone.
   */
  marginWeight?: number;
  /**
   * Weight of an identity's template (mean of its faces) in its distance, against its nearest face:
   * {@link identityDistance}. Absent or 0: the nearest face alone.
   */
  templateWeight?: number;
}

/** Why a face is unknown: nobody near enough, or two identities too near each other. */
export type UnknownReason = 'no-close-identity' | 'ambiguous';

export interface Decision {
  match: Candidate | null;
  /** Null exactly when `match` is set. */
  reason: UnknownReason | null;
}

/**
 * The default 1:N rule, tuned on one half of LFW's people (`npm run bench:identify`: lowest FNIR
 * at one plus three images per person with FPIR <= 0.6% there, 1.2% with everyone enrolled). On the
 * other half (826 identities): one image per person FPIR 0.73%, FNIR 24.7%; three images FPIR
 * 1.03%, FNIR 9.5% (6.3% for people with 4+ images); every person enrolled (2,874) FPIR 1.07%
 * and 0.98% (docs/identification.md).
 */
export const DEFAULT_RULE: MatchRule = { threshold: 0.4025, margin: 0.07, marginWeight: 0.75, templateWeight: 0.75 };

/**
 * The 1:N rule for template scoring (each identity scored by the mean of its faces alone), tuned
 * on the same half of LFW's people with three images enrolled per person (FPIR <= 0.8% there). On
 * the other half (826 identities): FPIR 1.03%, FNIR 10.3% (`npm run bench:identify --
 * --gallery-images 3 --template --threshold 0.4475 --margin 0.055 --margin-weight 0
 * --template-weight 0`, docs/collections.md). DEFAULT_RULE's blend does better at K = 1 and 3.
 */
export const TEMPLATE_RULE: MatchRule = { threshold: 0.4475, margin: 0.055 };

/**
 * `verify`'s 1:1 threshold: two faces are the same person when their distance is at most this.
 * LFW View 2, ten folds, each fold's threshold chosen on the other nine, picked 0.6079-0.6116 for
 * the standard pipeline (99.23% ± 0.32, docs/recognition.md); 0.61 is that choice rounded. 1:1
 * has one chance to be wrong where 1:N has one per identity, so it is looser than the 1:N rule.
 */
export const DEFAULT_VERIFY_THRESHOLD = 0.61;

/** How many identities after the nearest make its cohort (see {@link MatchRule.cohort}). */
export const COHORT_SIZE = 10;

/**
 * How many identities {@link decide} needs to see under `rule`: the nearest and the second (for
 * the margin), or the nearest and its cohort when the rule has a cohort score. An index answering
 * the matcher must return this many when the gallery holds them; fewer (a small gallery) make a
 * smaller cohort.
 */
export function ruleCandidates(rule: Pick<MatchRule, 'cohort' | 'templateWeight'>): number {
  return rule.cohort ? 1 + COHORT_SIZE : rule.templateWeight ? BLEND_CANDIDATES : RULE_CANDIDATES;
}

/**
 * How many identities, nearest by their nearest face, are re-scored with their templates under a
 * rule with a `templateWeight` ({@link identityDistance}) before the rule ranks them.
 */
export const BLEND_CANDIDATES = 1 + COHORT_SIZE;

/**
 * An identity's distance under a rule with template weight `w`: (1 - w) x `nearest` (its nearest
 * face) + w x `template` (the mean of its faces). Equal to `nearest` for an identity of one face.
 */
export function identityDistance(nearest: number, template: number, w: number): number {
  return w ? (1 - w) * nearest + w * template : nearest;
}

/** How many identities the default rule needs: the nearest and, for the margin, the second. */
export const RULE_CANDIDATES = 2;

/**
 * The cohort score of a face whose distances to its nearest identities are `d` (nearest first):
 * how many standard deviations the mean of `d[1..COHORT_SIZE]` lies above `d[0]`. Null with fewer
 * than two identities after the nearest (no spread to measure).
 */
export function cohortScore(d: ArrayLike<number>): number | null {
  const n = Math.min(d.length - 1, COHORT_SIZE);
  if (n < 2) return null;
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += d[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 1; i <= n; i++) ss += (d[i]! - mean) ** 2;
  return (mean - d[0]!) / Math.sqrt(ss / (n - 1));
}

/**
 * {@link decide} on distances alone (nearest first, distinct identities): the reason a face is
 * unknown, or null when the nearest is named. The benchmark scores probes with this same code.
 */
export function decideDistances(d: ArrayLike<number>, rule: MatchRule): UnknownReason | null {
  const d1 = d[0];
  const gap = d.length > 1 ? d[1]! - d1! : 0;
  if (d1 === undefined || !(d1 - (rule.marginWeight ?? 0) * gap <= rule.threshold)) return 'no-close-identity';
  if (d.length > 1 && gap < rule.margin) return 'ambiguous';
  if (rule.cohort) {
    const z = cohortScore(d);
    // NaN (no spread, nearest at the mean) fails, as a face level with everyone should.
    if (z !== null && !(z >= rule.cohort)) return 'ambiguous';
  }
  return null;
}

/**
 * Decide on candidates sorted nearest first (distinct identities). With one identity in the
 * gallery there is no second to compare with, so only the threshold applies.
 */
export function decide(candidates: readonly Candidate[], rule: MatchRule): Decision {
  const reason = decideDistances(candidates.map((c) => c.distance), rule);
  return reason ? { match: null, reason } : { match: candidates[0]!, reason: null };
}

/** A rule's numbers checked: threshold in (0, 2], margin in [0, 2), cohort in [0, 100], weights in [0, 1] and [0, 10]. Throws RangeError. */
export function checkRule(rule: MatchRule): MatchRule {
  if (!(rule.threshold > 0 && rule.threshold <= 2)) throw new RangeError(`threshold must be in (0, 2], got ${rule.threshold}`);
  if (!(rule.margin >= 0 && rule.margin < 2)) throw new RangeError(`margin must be in [0, 2), got ${rule.margin}`);
  if (rule.cohort !== undefined && !(rule.cohort >= 0 && rule.cohort <= 100)) throw new RangeError(`cohort must be in [0, 100], got ${rule.cohort}`);
  if (rule.templateWeight !== undefined && !(rule.templateWeight >= 0 && rule.templateWeight <= 1)) throw new RangeError(`templateWeight must be in [0, 1], got ${rule.templateWeight}`);
  if (rule.marginWeight !== undefined && !(rule.marginWeight >= 0 && rule.marginWeight <= 10)) throw new RangeError(`marginWeight must be in [0, 10], got ${rule.marginWeight}`);
  return rule;
}
