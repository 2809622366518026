/**
 * The rules of unknown clusters, in one place (docs/unknowns.md):
 * - a face nobody enrolled joins the nearest open cluster when it is within {@link CLUSTER_RADIUS}
 *   of one of that cluster's representatives, and otherwise starts a cluster, if it may;
 * - a cluster keeps at most {@link MAX_REPRESENTATIVES} representatives, chosen for coverage;
 * - `recluster` merges clusters whose representatives came within the same radius.
 */
import { DEFAULT_MIN_ENROLL_QUALITY, type FaceQuality } from '../recognition/quality.js';
import type { Box } from '../recognition/types.js';

/**
 * Largest distance from a face to a cluster's nearest representative at which it joins the
 * cluster. Chosen with {@link MERGE_RADIUS} by `npm run bench:clusters -- --choose` on the tuning
 * half of LFW's people (the split `bench:identify` tunes the 1:N rule on): of joins 0.42-0.46
 * and merges 0.36-0.40, the pair with the highest BCubed recall whose precision there, recluster
 * on, is at least 0.98 (P 0.982, R 0.906). Reported on the other half (docs/unknowns.md).
 */
export const CLUSTER_RADIUS = 0.46;

/**
 * Largest distance between two clusters (their nearest two representatives) at which `recluster`
 * merges them. Tighter than the join radius: a join risks one face, a merge a whole cluster.
 */
export const MERGE_RADIUS = 0.4;

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
