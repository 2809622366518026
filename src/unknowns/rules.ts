/**
 * The rules of unknown clusters, in one place (docs/unknowns.md):
 * - a face nobody enrolled joins the open cluster whose template (the mean of its faces) is
 *   nearest, when it is within {@link CLUSTER_RADIUS}, and otherwise starts a cluster, if it may;
 * - a cluster keeps at most {@link MAX_REPRESENTATIVES} representatives, chosen for coverage;
 * - `recluster` merges clusters whose templates came within {@link mergeLimit} of each other, a
 *   limit that tightens as the two templates average more faces, and then attaches each stray
 *   (a cluster of a face or two) to the established cluster it is clearly nearest
 *   ({@link StrayRule}).
 */
import { DEFAULT_MIN_ENROLL_QUALITY, type FaceQuality } from '../recognition/quality.js';
import type { Box } from '../recognition/types.js';

/**
 * Largest distance from a face to a cluster's template (the mean of its faces) at which it joins
 * the cluster. Chosen with {@link JOIN_MARGIN} and {@link MERGE_RULE} by
 * `npm run bench:clusters -- --choose --recluster service` on the tuning half of LFW's people
 * (the split `bench:identify` tunes the 1:N rule on), stream seeds 1-3: the rule whose mean
 * BCubed precision and recall, with recluster (its stray step included) run when the workers
 * would ask for it, clear the goals (0.98 and 0.90) by the widest margin.
 * Reported on the other half (docs/unknowns.md).
 */
export const CLUSTER_RADIUS = 0.38;

/**
 * How much nearer a face must be to the nearest cluster's template than to the next one's to
 * join it; otherwise it starts a cluster of its own. Chosen with the radii (above).
 */
export const JOIN_MARGIN = 0;

/**
 * Recluster's merge rule: two clusters' templates merge when they are within
 * {@link mergeLimit} of each other. A template is the mean of a faces; if each face of a person
 * lies about `spread` from the person's centre in a random direction, two templates of that
 * person lie about spread * sqrt(1/a + 1/b) apart, plus a residual `floor` (a person's photos
 * are not spread evenly about one centre), and never beyond `cap`. So two single faces may merge
 * farthest apart (0.43 at the default, under its cap), and two templates of many faces only when
 * their means agree closely: a big cluster does not swallow a neighbour because its edge reaches
 * it. Chosen with the join radius (above).
 */
export interface MergeRule {
  floor: number;
  spread: number;
  cap: number;
  /** Recluster's second step, for strays; none when absent. */
  stray?: StrayRule;
}

/**
 * Recluster's second step. A person's odd photo (turned away, lit from one side) lies farther
 * from the person's template than a face may join at, and starts a cluster of its own, which
 * the merge limit, made for two templates of the same kind, leaves apart. A stray is an open
 * cluster of at most `faces` faces; it is attached to the established cluster (more than `faces`
 * faces) whose template is nearest, when that is within `limit` and the next established
 * cluster's template is at least `margin` farther: the test the 1:N rule makes of a face against
 * enrolled identities, here against the collection's established strangers. A stray between two
 * of them stays apart. Chosen with the radii (above).
 */
export interface StrayRule {
  faces: number;
  limit: number;
  margin: number;
}

export const MERGE_RULE: MergeRule = { floor: 0.25, spread: 0.25, cap: 0.48, stray: { faces: 1, limit: 0.45, margin: 0.1 } };

/** Largest distance between templates of `a` and `b` faces at which recluster merges them (see {@link MergeRule}). */
export function mergeLimit(a: number, b: number, rule: MergeRule = MERGE_RULE): number {
  const spread = rule.spread * rule.spread * (1 / Math.max(1, a) + 1 / Math.max(1, b));
  return Math.min(rule.cap, Math.sqrt(rule.floor * rule.floor + spread));
}

/** Representatives a cluster keeps: bounded so that matching costs the same for old and new clusters. */
export const MAX_REPRESENTATIVES = 6;

/**
 * A face nearer than this to a representative adds nothing to the cluster's coverage and is not
 * made one (so a cluster of near-identical frames keeps one representative, not six).
 */
export const REPRESENTATIVE_SPACING = 0.12;

/** Recent sightings a cluster keeps (newest first); `sightings` counts them all. */
export const MAX_RECENT_SIGHTINGS = 20;

/** The fewest pixels on a face box's shorter side for the face to start a cluster or represent one. */
export const MIN_CLUSTER_FACE_SIDE = 40;

/** The lowest detection score for a face to start a cluster or represent one. */
export const MIN_CLUSTER_FACE_SCORE = 0.6;

/**
 * The lowest quality score (`src/recognition/quality.ts`) for a face to start a cluster or
 * represent one: the enrollment bar, because naming a cluster enrolls its representatives.
 */
export const MIN_CLUSTER_QUALITY = DEFAULT_MIN_ENROLL_QUALITY;

/**
 * Whether a face is good enough to start a cluster, or to be one of its representatives: its
 * quality score is at least {@link MIN_CLUSTER_QUALITY}, and (for faces without a score, such as
 * cached descriptors in benchmarks, and as a floor for every face) the detector's confidence and
 * the face's size pass their minimums. A blurred, distant or half-hidden face's descriptor
 * wanders far enough to start clusters of nobody. A face that fails this may still join a
 * cluster it is near (it is counted as a sighting) but is never stored as a representative.
 */
export function mayStartCluster(face: { box: Box; score: number; quality?: FaceQuality }): boolean {
  if (face.quality !== undefined && face.quality.score < MIN_CLUSTER_QUALITY) return false;
  return face.score >= MIN_CLUSTER_FACE_SCORE && Math.min(face.box.width, face.box.height) >= MIN_CLUSTER_FACE_SIDE;
}

/** `unk_` and 20 characters of [a-z0-9]: the shape of every cluster id. */
export const CLUSTER_ID = /^unk_[a-z0-9]{20}$/;
