/**
 * The pure part of unknown clusters: nearest cluster, joining, choosing representatives,
 * merging and the recluster plan. No I/O; the tracker and the operations store the results.
 */
import { createHash } from 'node:crypto';
import { euclidean } from '../recognition/matcher.js';
import type { UnknownCluster, UnknownRepresentative, UnknownSighting } from '../store/ports.js';
import { MAX_RECENT_SIGHTINGS, MAX_REPRESENTATIVES, MERGE_RADIUS, REPRESENTATIVE_SPACING } from './rules.js';

/** Distance from a descriptor to a cluster: to its nearest representative. */
export function distanceToCluster(descriptor: Float32Array, cluster: Pick<UnknownCluster, 'representatives'>): number {
  let best = Infinity;
  for (const r of cluster.representatives) {
    if (r.descriptor.length !== descriptor.length) continue;
    const d = euclidean(descriptor, r.descriptor);
    if (d < best) best = d;
  }
  return best;
}

/** The nearest open cluster and its distance, or null when there is none with representatives. */
export function nearestCluster<C extends UnknownCluster>(descriptor: Float32Array, clusters: readonly C[]): { cluster: C; distance: number } | null {
  let best: { cluster: C; distance: number } | null = null;
  for (const c of clusters) {
    if (c.state !== 'open') continue;
    const d = distanceToCluster(descriptor, c);
    if (d < (best?.distance ?? Infinity)) best = { cluster: c, distance: d };
  }
  return best;
}

/**
 * Up to `max` representatives chosen for coverage, not age: the first (the cluster's oldest) is
 * kept, then each next pick is the candidate farthest from those already picked (farthest-point
 * order, a 2-approximation of the k-centre cover). Deterministic for the same input order.
 */
export function chooseRepresentatives(candidates: readonly UnknownRepresentative[], max = MAX_REPRESENTATIVES): UnknownRepresentative[] {
  if (candidates.length <= max) return [...candidates];
  const picked = [candidates[0]!];
  const nearest = candidates.map((c) => euclidean(c.descriptor, candidates[0]!.descriptor));
  const taken = new Set([0]);
  while (picked.length < max) {
    let far = -1;
    for (let i = 0; i < candidates.length; i++) if (!taken.has(i) && (far < 0 || nearest[i]! > nearest[far]!)) far = i;
    taken.add(far);
    picked.push(candidates[far]!);
    for (let i = 0; i < candidates.length; i++) nearest[i] = Math.min(nearest[i]!, euclidean(candidates[i]!.descriptor, candidates[far]!.descriptor));
  }
  // Keep stored order (oldest first) so the same set always encodes the same.
  const keep = new Set(picked.map((r) => r.id));
  return candidates.filter((c) => keep.has(c.id));
}

/** What a change to a cluster did: the cluster to store, and the representatives it no longer has. */
export interface ClusterChange {
  cluster: UnknownCluster;
  dropped: UnknownRepresentative[];
}

/**
 * A sighting joins `cluster`. `candidate`, when given (a face good enough to represent), becomes
 * a representative if it adds coverage: it is at least {@link REPRESENTATIVE_SPACING} from every
 * representative, and the farthest-point choice keeps it.
 */
export function joinCluster(cluster: UnknownCluster, sighting: UnknownSighting, candidate?: UnknownRepresentative): ClusterChange {
  let representatives = cluster.representatives;
  let dropped: UnknownRepresentative[] = [];
  if (candidate && distanceToCluster(candidate.descriptor, cluster) >= REPRESENTATIVE_SPACING) {
    const all = [...representatives, candidate];
    representatives = chooseRepresentatives(all);
    const kept = new Set(representatives.map((r) => r.id));
    dropped = all.filter((r) => !kept.has(r.id));
  }
  const next: UnknownCluster = {
    ...cluster,
    sightings: cluster.sightings + 1,
    lastSeen: sighting.at > cluster.lastSeen ? sighting.at : cluster.lastSeen,
    recent: [sighting, ...cluster.recent].slice(0, MAX_RECENT_SIGHTINGS),
    representatives,
  };
  return { cluster: next, dropped };
}

/** The digest a survivor keeps of a cluster merged into it: enough to not count it twice, not its id. */
export function absorbedDigest(clusterId: string): string {
  return createHash('sha256').update(`absorbed:${clusterId}`).digest('hex').slice(0, 16);
}

/**
 * Merge `others` into `survivor`: every sighting counted once (an other already absorbed, by its
 * digest, adds nothing again), recent sightings newest first, representatives chosen for
 * coverage from all of them, first and last seen widened.
 */
export function mergeInto(survivor: UnknownCluster, others: readonly UnknownCluster[]): ClusterChange {
  let next = { ...survivor, absorbed: [...survivor.absorbed] };
  const all = [...survivor.representatives];
  for (const o of others) {
    const digest = absorbedDigest(o.id);
    if (next.absorbed.includes(digest)) continue;
    next = {
      ...next,
      absorbed: [...next.absorbed, digest].slice(-64),
      sightings: next.sightings + o.sightings,
      firstSeen: o.firstSeen < next.firstSeen ? o.firstSeen : next.firstSeen,
      lastSeen: o.lastSeen > next.lastSeen ? o.lastSeen : next.lastSeen,
      recent: [...next.recent, ...o.recent].sort((a, b) => b.at.localeCompare(a.at)).slice(0, MAX_RECENT_SIGHTINGS),
    };
    all.push(...o.representatives);
  }
  const representatives = chooseRepresentatives(all);
  const kept = new Set(representatives.map((r) => r.id));
  return { cluster: { ...next, representatives }, dropped: all.filter((r) => !kept.has(r.id)) };
}

/** Distance between two clusters: between their nearest two representatives. */
export function clusterDistance(a: UnknownCluster, b: UnknownCluster): number {
  let best = Infinity;
  for (const r of a.representatives) best = Math.min(best, distanceToCluster(r.descriptor, b));
  return best;
}

/**
 * Which open clusters `recluster` merges: groups of clusters linked by a distance within
 * `radius` (the join rule applied between clusters), each group merged into its oldest member
 * (first seen, then id). A second plan over the merged result is empty: recluster is idempotent.
 */
export function planRecluster(clusters: readonly UnknownCluster[], radius = MERGE_RADIUS): Array<{ survivor: UnknownCluster; others: UnknownCluster[] }> {
  const open = clusters.filter((c) => c.state === 'open' && c.representatives.length > 0);
  const parent = open.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let i = 0; i < open.length; i++) {
    for (let j = i + 1; j < open.length; j++) {
      if (find(i) !== find(j) && clusterDistance(open[i]!, open[j]!) <= radius) parent[find(j)] = find(i);
    }
  }
  const groups = new Map<number, UnknownCluster[]>();
  open.forEach((c, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), c]));
  const older = (a: UnknownCluster, b: UnknownCluster) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id);
  return [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) => {
      const [survivor, ...others] = [...g].sort(older);
      return { survivor: survivor!, others };
    });
}
