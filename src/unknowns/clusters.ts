/**
 * The pure part of unknown clusters: nearest cluster, joining, choosing representatives,
 * merging and the recluster plan. No I/O; the tracker and the operations store the results.
 */
import { createHash } from 'node:crypto';
import { euclidean } from '../recognition/matcher.js';
import type { UnknownCluster, UnknownRepresentative, UnknownSighting, UnknownTemplate } from '../store/ports.js';
import { CLUSTER_RADIUS, JOIN_MARGIN, MAX_RECENT_SIGHTINGS, MAX_REPRESENTATIVES, MERGE_RULE, REPRESENTATIVE_SPACING, mergeLimit, type MergeRule, type StrayRule } from './rules.js';

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
 * The established cluster a stray (an open cluster of at most `stray.faces` faces) is attached to
 * by recluster's second step ({@link StrayRule}): of the templates `eligible` admits (those of more
 * than `stray.faces` faces), the nearest, when within `stray.limit` and at least `stray.margin`
 * nearer than the next; -1 otherwise, and always for a template that is not a stray.
 */
function strayTarget(t: UnknownTemplate, templates: readonly UnknownTemplate[], eligible: (k: number) => boolean, stray: StrayRule): number {
  if (t.faces > stray.faces) return -1;
  let best = -1;
  let d1 = Infinity;
  let d2 = Infinity;
  for (let k = 0; k < templates.length; k++) {
    const other = templates[k]!;
    if (other === t || other.faces <= stray.faces || other.mean.length !== t.mean.length || !eligible(k)) continue;
    const d = euclidean(t.mean, other.mean);
    if (d < d1) (d2 = d1), (d1 = d), (best = k);
    else if (d < d2) d2 = d;
  }
  return best >= 0 && d1 <= stray.limit && d2 - d1 >= stray.margin ? best : -1;
}

/**
 * Whether a run of recluster would change `made` (a cluster just started) as `clusters` stand:
 * the merge limit would merge it with one of them, or it is a stray the rule would attach. The
 * tracker's reason to ask for a run (a race with another worker, or a person's odd photo).
 */
export function wantsRecluster(made: UnknownCluster, clusters: readonly UnknownCluster[], rule: MergeRule = MERGE_RULE): boolean {
  const others = clusters.filter((c) => c.id !== made.id);
  if (others.some((c) => wouldMerge(made, c, rule))) return true;
  const t = openTemplate(made);
  if (!t || !rule.stray) return false;
  const templates = others.map(openTemplate);
  const known = templates.filter((x): x is UnknownTemplate => x !== null);
  return strayTarget(t, known, () => true, rule.stray) >= 0;
}

/**
 * Which open clusters `recluster` merges, and into which. First, agglomerative clustering of the
 * clusters' templates (centroid linkage): of the pairs the merge rule allows ({@link mergeLimit}:
 * a limit that tightens as the two templates average more faces), the nearest two are merged
 * (their template the mean of both, weighted by faces), then the next, until the rule allows no
 * pair. Unlike single linkage it does not chain: a merge moves the template, so a third cluster
 * must be near the pair's mean, not near either one's edge. Then every stray the rule's second
 * step picks a target for ({@link StrayRule}, all judged against the same templates) is attached
 * to it, and the two steps repeat until neither changes anything. Each group is merged into its
 * oldest member (first seen, then id). A second plan over the merged result is empty: recluster
 * is idempotent.
 *
 * Each cluster keeps only its nearest allowed partner, not a matrix of every pair: O(clusters)
 * memory, one distance per pair to start, and per merge one distance per cluster for the merged
 * one plus a rescan for each cluster whose partner the merge took. The stray step is one distance
 * per stray and established cluster, then one per cluster for each cluster that took strays.
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
  const absorb = (into: number, from: number) => {
    templates[into] = combine(templates[into]!, templates[from]!)!;
    members[into]!.push(...members[from]!);
    alive[from] = 0;
  };
  const offerAll = (i: number, from: number) => {
    for (let k = from; k < n; k++) {
      if (k === i || !alive[k]) continue;
      const d = mergeDistance(templates[i]!, templates[k]!, rule);
      offer(i, k, d);
      offer(k, i, d);
    }
  };
  for (let i = 0; i < n; i++) offerAll(i, i + 1);
  for (;;) {
    for (;;) {
      let bi = -1;
      for (let i = 0; i < n; i++) if (alive[i] && partnerDistance[i]! < (bi < 0 ? Infinity : partnerDistance[bi]!)) bi = i;
      if (bi < 0) break;
      const bj = partner[bi]!;
      absorb(bi, bj);
      partner[bj] = -1;
      partnerDistance[bj] = Infinity;
      // The merged template moved: its own partner, and any cluster that had either of the two, are found again.
      partner[bi] = -1;
      partnerDistance[bi] = Infinity;
      for (let k = 0; k < n; k++) if (alive[k] && k !== bi && (partner[k] === bi || partner[k] === bj)) rescan(k);
      offerAll(bi, 0);
    }
    if (!rule.stray) break;
    const stray = rule.stray;
    // Every stray judged against the same templates, then attached: the order of the list does not matter.
    const moves: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      if (!alive[i]) continue;
      const to = strayTarget(templates[i]!, templates, (k) => alive[k] === 1, stray);
      if (to >= 0) moves.push([i, to]);
    }
    if (moves.length === 0) break;
    for (const [from, to] of moves) absorb(to, from);
    // No pair was allowed when the first step stopped; only the templates that grew can make one now.
    for (const to of new Set(moves.map(([, t]) => t))) offerAll(to, 0);
  }
  return members
    .filter((g, i) => alive[i] && g.length > 1)
    .map((g) => {
      const [survivor, ...others] = [...g].sort(olderFirst);
      return { survivor: survivor!, others };
    })
    .sort((a, b) => olderFirst(a.survivor, b.survivor));
}
