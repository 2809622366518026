/**
 * The rules of unknown clusters, in one place (docs/unknowns.md):
 * - a face nobody enrolled joins the open cluster whose template (the mean of its faces) is
 *   nearest, when it is within {@link CLUSTER_RADIUS}, and otherwise starts a cluster, if it may;
 * - a cluster keeps at most {@link MAX_REPRESENTATIVES} representatives, chosen for coverage;
 * - `recluster` merges clusters whose templates came within {@link MERGE_RADIUS}.
 */
import { DEFAULT_MIN_ENROLL_QUALITY, type FaceQuality } from '../recognition/quality.js';
import type { Box } from '../recognition/types.js';

/**
 * Largest distance from a face to a cluster's template (the mean of its faces) at which it joins
 * the cluster. Chosen with {@link MERGE_RADIUS} by `npm run bench:clusters -- --choose` on the
 * tuning half of LFW's people (the split `bench:identify` tunes the 1:N rule on), stream seeds
 * 1-3, with {@link JOIN_MARGIN}: of joins 0.44-0.50, margins 0-0.06 and merges 0.26-0.34, the
 * rule whose mean BCubed precision and recall, recluster on, clear the goals (0.98 and 0.90) by
 * the widest margin (P 0.989, R 0.924). Reported on the other half (docs/unknowns.md).
 */
export const CLUSTER_RADIUS = 0.48;

/**
 * How much nearer a face must be to the nearest cluster's template than to the next one's to
 * join it; otherwise it starts a cluster of its own. Chosen with the radii (above).
 */
export const JOIN_MARGIN = 0.04;

/**
 * Largest distance between two clusters' templates at which `recluster` merges them (centroid
 * linkage, nearest pair first). Tighter than the join radius: a template is a mean, so two
 * templates of one person lie nearer each other than a face lies to either; and a merge risks a
 * whole cluster, a join one face.
 */
export const MERGE_RADIUS = 0.3;

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
