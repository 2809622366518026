/**
 * The pure part of unknown clusters: nearest cluster, joining, choosing representatives,
 * merging and the recluster plan. No I/O; the tracker and the operations store the results.
 */
import { createHash } from 'node:crypto';
import { euclidean } from '../recognition/matcher.js';
import type { UnknownCluster, UnknownRepresentative, UnknownSighting, UnknownTemplate } from '../store/ports.js';
import { CLUSTER_RADIUS, JOIN_MARGIN, MAX_RECENT_SIGHTINGS, MAX_REPRESENTATIVES, MERGE_RULE, REPRESENTATIVE_SPACING, mergeLimit, type MergeRule } from './rules.js';

/**
 * A cluster's template: its stored one (the mean of every face good enough to represent it that
 * joined it), or, for a cluster stored without one, the mean of its representatives. Null when
 * it has no representatives (a named cluster).
 */
export function templateOf(cluster: Pick<UnknownCluster, 'representatives' | 'template'>): UnknownTemplate | null {
  if (cluster.template) return cluster.template;
  const reps = cluster.representatives;
  if (reps.length === 0) return null;
  // Asked for each face against each cluster: the mean of the same representatives is made once.
  const known = fallbackTemplates.get(reps);
  if (known) return known;
  const mean = new Float32Array(reps[0]!.descriptor.length);
  for (const r of reps) for (let i = 0; i < mean.length; i++) mean[i]! += r.descriptor[i]! / reps.length;
  const made = { mean, faces: reps.length };
  fallbackTemplates.set(reps, made);
  return made;
}

/** Templates of clusters stored without one, by their representatives array (replaced, never changed in place, when they change). */
const fallbackTemplates = new WeakMap<object, UnknownTemplate>();

/** Distance from a descriptor to a cluster: to its template (Infinity without one, or for another length). */
export function distanceToCluster(descriptor: Float32Array, cluster: Pick<UnknownCluster, 'representatives' | 'template'>): number {
  const t = templateOf(cluster);
  return t && t.mean.length === descriptor.length ? euclidean(descriptor, t.mean) : Infinity;
}

/** Distance from a descriptor to a cluster's nearest representative. */
export function distanceToRepresentatives(descriptor: Float32Array, cluster: Pick<UnknownCluster, 'representatives'>): number {
  let best = Infinity;
  for (const r of cluster.representatives) {
    if (r.descriptor.length !== descriptor.length) continue;
    const d = euclidean(descriptor, r.descriptor);
    if (d < best) best = d;
  }
  return best;
}

/** The nearest open cluster and its distance (to its template), or null when there is none with representatives. */
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
 * The cluster a face joins: the open cluster whose template is nearest, when it is within
 * `radius` and at least `margin` nearer than the next cluster's template; null otherwise (the
 * face starts a cluster, if it may). A face about as near two clusters would join one at random
 * and, if they are two people, pull its template towards the other; starting a cluster of its
 * own leaves that to recluster. The one join rule, for the worker's tracker and for bench:clusters.
 */
export function clusterToJoin<C extends UnknownCluster>(
  descriptor: Float32Array,
  clusters: readonly C[],
  radius = CLUSTER_RADIUS,
  margin = JOIN_MARGIN,
): { cluster: C; distance: number } | null {
  let best: { cluster: C; distance: number } | null = null;
  let second = Infinity;
  for (const c of clusters) {
    if (c.state !== 'open') continue;
    const d = distanceToCluster(descriptor, c);
    if (d < (best?.distance ?? Infinity)) {
      second = best?.distance ?? Infinity;
      best = { cluster: c, distance: d };
    } else if (d < second) second = d;
  }
  return best && best.distance <= radius && second - best.distance >= margin ? best : null;
}

/** The mean of two templates, weighted by their faces. */
function combine(a: UnknownTemplate | null, b: UnknownTemplate | null): UnknownTemplate | undefined {
  if (!a || !b || a.mean.length !== b.mean.length) return (a ?? b) || undefined;
  const faces = a.faces + b.faces;
  return { mean: Float32Array.from(a.mean, (v, i) => (v * a.faces + b.mean[i]! * b.faces) / faces), faces };
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
 * A sighting joins `cluster`. `candidate`, when given (a face good enough to represent), moves
 * the template (one more face in its mean), and becomes a representative if it adds coverage: it
 * is at least {@link REPRESENTATIVE_SPACING} from every representative, and the farthest-point
 * choice keeps it.
 */
export function joinCluster(cluster: UnknownCluster, sighting: UnknownSighting, candidate?: UnknownRepresentative): ClusterChange {
  let representatives = cluster.representatives;
  let dropped: UnknownRepresentative[] = [];
  const template = candidate ? combine(templateOf(cluster), { mean: candidate.descriptor, faces: 1 }) : cluster.template;
  if (candidate && distanceToRepresentatives(candidate.descriptor, cluster) >= REPRESENTATIVE_SPACING) {
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
    ...(template ? { template } : {}),
  };
  return { cluster: next, dropped };
}

/** The digest a survivor keeps of a cluster merged into it: enough to not count it twice, not its id. */
export function absorbedDigest(clusterId: string): string {
  return createHash('sha256').update(`absorbed:${clusterId}`).digest('hex').slice(0, 16);
}

/** How many digests of absorbed clusters a survivor keeps (the newest). */
export const MAX_ABSORBED = 64;

/**
 * The cluster that `id` was merged into, directly or through later merges: the one whose
 * absorbed digests hold it (each survivor keeps its others' digests too); null when none does.
 */
export function mergedInto<C extends UnknownCluster>(clusters: readonly C[], id: string): C | null {
  const digest = absorbedDigest(id);
  return clusters.find((c) => c.absorbed.includes(digest)) ?? null;
}

/**
 * Merge `others` into `survivor`: every sighting counted once (an other already absorbed, by its
 * digest, adds nothing again), recent sightings newest first, representatives chosen for
 * coverage from all of them, templates averaged by their faces, first and last seen widened.
 * The survivor keeps the digests of the others and of what they had absorbed, so an id merged
 * twice still leads to it: at most {@link MAX_ABSORBED}, this merge's own always kept (a retry of
 * it after a crash must find them), older and inherited ones dropped first.
 */
export function mergeInto(survivor: UnknownCluster, others: readonly UnknownCluster[]): ClusterChange {
  let next: UnknownCluster = { ...survivor };
  let template = templateOf(survivor);
  const all = [...survivor.representatives];
  const kept = new Set(survivor.absorbed);
  const inherited: string[] = [];
  const own: string[] = [];
  for (const o of others) {
    const digest = absorbedDigest(o.id);
    if (kept.has(digest) || own.includes(digest)) continue;
    own.push(digest);
    inherited.push(...o.absorbed);
    next = {
      ...next,
      sightings: next.sightings + o.sightings,
      firstSeen: o.firstSeen < next.firstSeen ? o.firstSeen : next.firstSeen,
      lastSeen: o.lastSeen > next.lastSeen ? o.lastSeen : next.lastSeen,
      recent: [...next.recent, ...o.recent].sort((a, b) => b.at.localeCompare(a.at)).slice(0, MAX_RECENT_SIGHTINGS),
    };
    template = combine(template, templateOf(o)) ?? null;
    all.push(...o.representatives);
  }
  const earlier = [...new Set([...survivor.absorbed, ...inherited])].filter((d) => !own.includes(d));
  const absorbed = [...earlier.slice(Math.max(0, earlier.length - Math.max(0, MAX_ABSORBED - own.length))), ...own.slice(-MAX_ABSORBED)];
  const representatives = chooseRepresentatives(all);
  const stay = new Set(representatives.map((r) => r.id));
  return { cluster: { ...next, absorbed, representatives, ...(template ? { template } : {}) }, dropped: all.filter((r) => !stay.has(r.id)) };
}

/** Distance between two templates when recluster's rule merges them (within {@link mergeLimit} for their faces), Infinity otherwise. */
function mergeDistance(a: UnknownTemplate, b: UnknownTemplate, rule: MergeRule): number {
  if (a.mean.length !== b.mean.length) return Infinity;
  const d = euclidean(a.mean, b.mean);
  return d <= mergeLimit(a.faces, b.faces, rule) ? d : Infinity;
}

/** An open cluster's template; null for a named one, or one without representatives. */
function openTemplate(c: UnknownCluster): UnknownTemplate | null {
  return c.state === 'open' ? templateOf(c) : null;
}

/** Oldest first: first seen, then id. Merges keep the oldest cluster's id. */
export function olderFirst(a: UnknownCluster, b: UnknownCluster): number {
  return a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id);
}

/** Whether recluster's rule would merge two open clusters as they stand (the tracker's race check). */
export function wouldMerge(a: UnknownCluster, b: UnknownCluster, rule: MergeRule = MERGE_RULE): boolean {
  const ta = openTemplate(a);
  const tb = openTemplate(b);
  return ta !== null && tb !== null && mergeDistance(ta, tb, rule) < Infinity;
}

/**
 * Which open clusters `recluster` merges, and into which: agglomerative clustering of the
 * clusters' templates (centroid linkage). Of the pairs the merge rule allows ({@link mergeLimit}:
 * a limit that tightens as the two templates average more faces), the nearest two are merged
 * (their template the mean of both, weighted by faces), then the next, until the rule allows no
 * pair. Unlike single linkage it does not chain: a merge moves the template, so a third cluster
 * must be near the pair's mean, not near either one's edge. Each group is merged into its oldest
 * member (first seen, then id). A second plan over the merged result is empty: recluster is
 * idempotent.
 *
 * Each cluster keeps only its nearest allowed partner, not a matrix of every pair: O(clusters)
 * memory, one distance per pair to start, and per merge one distance per cluster for the merged
 * one plus a rescan for each cluster whose partner the merge took.
 */
export function planRecluster(clusters: readonly UnknownCluster[], rule: MergeRule = MERGE_RULE): Array<{ survivor: UnknownCluster; others: UnknownCluster[] }> {
  const open: UnknownCluster[] = [];
  const templates: UnknownTemplate[] = [];
  // Oldest first, so that ties (equal distances) go the same way whatever order the store lists in.
  for (const c of [...clusters].sort(olderFirst)) {
    const t = openTemplate(c);
    if (t) {
      open.push(c);
      templates.push(t);
    }
  }
  const n = open.length;
  const members = open.map((c) => [c]);
  const alive = new Uint8Array(n).fill(1);
  const partner = new Int32Array(n).fill(-1);
  const partnerDistance = new Float64Array(n).fill(Infinity);
  const offer = (i: number, j: number, d: number) => {
    if (d < partnerDistance[i]!) (partnerDistance[i] = d), (partner[i] = j);
  };
  const rescan = (i: number) => {
    partner[i] = -1;
    partnerDistance[i] = Infinity;
    for (let k = 0; k < n; k++) if (k !== i && alive[k]) offer(i, k, mergeDistance(templates[i]!, templates[k]!, rule));
  };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = mergeDistance(templates[i]!, templates[j]!, rule);
      offer(i, j, d);
      offer(j, i, d);
    }
  }
  for (;;) {
    let bi = -1;
    for (let i = 0; i < n; i++) if (alive[i] && partnerDistance[i]! < (bi < 0 ? Infinity : partnerDistance[bi]!)) bi = i;
    if (bi < 0) break;
    const bj = partner[bi]!;
    templates[bi] = combine(templates[bi]!, templates[bj]!)!;
    members[bi]!.push(...members[bj]!);
    alive[bj] = 0;
    partner[bj] = -1;
    partnerDistance[bj] = Infinity;
    // The merged template moved: its own partner, and any cluster that had either of the two, are found again.
    partner[bi] = -1;
    partnerDistance[bi] = Infinity;
    for (let k = 0; k < n; k++) {
      if (!alive[k] || k === bi) continue;
      if (partner[k] === bi || partner[k] === bj) rescan(k);
      const d = mergeDistance(templates[bi]!, templates[k]!, rule);
      offer(bi, k, d);
      offer(k, bi, d);
    }
  }
  return members
    .filter((g, i) => alive[i] && g.length > 1)
    .map((g) => {
      const [survivor, ...others] = [...g].sort(olderFirst);
      return { survivor: survivor!, others };
    })
    .sort((a, b) => olderFirst(a.survivor, b.survivor));
}
