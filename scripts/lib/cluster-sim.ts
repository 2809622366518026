/**
 * bench:clusters' measuring parts: the incremental clustering the worker does, run in memory
 * with the same functions (src/unknowns/clusters.ts), BCubed scores, and a one-shot offline
 * agglomerative clustering (average linkage, cut at the same radius) to compare against.
 */
import { clusterToJoin, joinCluster, mergeInto, planRecluster, wantsRecluster } from '../../src/unknowns/clusters.js';
import { MERGE_RULE, mayStartCluster, type MergeRule } from '../../src/unknowns/rules.js';
import { euclidean } from '../../src/recognition/matcher.js';
import type { UnknownCluster } from '../../src/store/ports.js';
import type { Box } from '../../src/recognition/types.js';
import { RECLUSTER_BUCKET_SECONDS } from '../../src/worker/unknown-faces.js';
import { bucketOf } from '../../src/unknowns/recluster-job.js';

export interface SimFace {
  person: string;
  descriptor: Float32Array;
  box: Box;
  score: number;
}

export interface SimOptions {
  radius: number;
  /** Join margin (`clusterToJoin`); default 0. */
  margin?: number;
  /** Recluster's merge rule; default {@link MERGE_RULE}. */
  mergeRule?: MergeRule;
  /**
   * When recluster runs, besides once at the end (the nightly run): `0`, never (not at the end
   * either); a number N, after every N faces; `service`, when the service's workers would ask for
   * it (below).
   */
  recluster: number | 'service';
  /**
   * With `recluster: 'service'`: the seconds between two faces of the stream (default 1) and the
   * workers' request bucket (default {@link RECLUSTER_BUCKET_SECONDS}). As in the worker
   * (src/worker/unknown-faces.ts, src/unknowns/recluster-job.ts): a face that starts a cluster
   * the merge rule would merge with another open cluster asks for a recluster; the request runs
   * this bucket's job at once, unless this bucket's job already exists, and then the next
   * bucket's job when that bucket begins (one job per bucket).
   */
  faceGapSeconds?: number;
  bucketSeconds?: number;
}

export interface SimResult {
  /** Cluster label of each face (-1: not clustered, a face too poor to start one and near none). */
  labels: number[];
  clusters: number;
  msPerFace: number;
  reclusterMs: number;
  /** Recluster runs, the one at the end included. */
  reclusterRuns: number;
}

/** Stream `faces` in order through the tracker's rules; labels are cluster ids as numbers. */
export function simulate(faces: readonly SimFace[], options: SimOptions): SimResult {
  let clusters: UnknownCluster[] = [];
  const members = new Map<string, string[]>(); // cluster id -> face jobIds
  let next = 0;
  let reclusterMs = 0;
  let reclusterRuns = 0;
  const t0 = performance.now();
  const recluster = () => {
    const r0 = performance.now();
    for (const { survivor, others } of planRecluster(clusters, options.mergeRule ?? MERGE_RULE)) {
      const merged = mergeInto(survivor, others).cluster;
      const gone = new Set(others.map((o) => o.id));
      const list = members.get(survivor.id)!;
      for (const o of others) list.push(...members.get(o.id)!), members.delete(o.id);
      clusters = clusters.filter((c) => !gone.has(c.id)).map((c) => (c.id === survivor.id ? merged : c));
    }
    reclusterMs += performance.now() - r0;
    reclusterRuns += 1;
  };
  const gapMs = (options.faceGapSeconds ?? 1) * 1000;
  const bucketSeconds = options.bucketSeconds ?? RECLUSTER_BUCKET_SECONDS;
  const bucketMs = bucketSeconds * 1000;
  const jobs = new Set<number>(); // buckets whose recluster job exists (service cadence)
  let queued = -1; // a bucket whose job waits for the bucket to begin
  const start = 1_700_000_000_000;
  faces.forEach((f, i) => {
    const t = start + i * gapMs;
    if (queued >= 0 && t >= queued * bucketMs) (queued = -1), recluster();
    const at = new Date(t).toISOString();
    const jobId = String(i);
    const sighting = { jobId, at, box: f.box };
    const good = mayStartCluster(f);
    const rep = good ? { id: `r${i}`, descriptor: f.descriptor, jobId, at } : undefined;
    const near = clusterToJoin(f.descriptor, clusters, options.radius, options.margin ?? 0);
    if (near) {
      const joined = joinCluster(near.cluster, sighting, rep).cluster;
      clusters = clusters.map((c) => (c.id === joined.id ? joined : c));
      members.get(joined.id)!.push(jobId);
    } else if (rep) {
      const id = `unk_${String(next++).padStart(20, '0')}`;
      const made: UnknownCluster = { id, version: 1, state: 'open', firstSeen: at, lastSeen: at, sightings: 1, representatives: [rep], recent: [sighting], absorbed: [], pipeline: 'standard' };
      clusters.push(made);
      members.set(id, [jobId]);
      if (options.recluster === 'service' && wantsRecluster(made, clusters, options.mergeRule ?? MERGE_RULE)) {
        const bucket = Number(bucketOf(new Date(t), bucketSeconds));
        if (!jobs.has(bucket)) jobs.add(bucket), recluster();
        else if (!jobs.has(bucket + 1)) jobs.add(bucket + 1), (queued = bucket + 1);
      }
    }
    if (typeof options.recluster === 'number' && options.recluster > 0 && (i + 1) % options.recluster === 0) recluster();
  });
  if (options.recluster !== 0) recluster();
  const elapsed = performance.now() - t0;
  const labels = faces.map(() => -1);
  let n = 0;
  for (const list of members.values()) {
    for (const j of list) labels[Number(j)] = n;
    n += 1;
  }
  return { labels, clusters: members.size, msPerFace: elapsed / Math.max(1, faces.length), reclusterMs, reclusterRuns };
}

/** BCubed precision and recall of `labels` against `truth`; an unlabelled face (-1) is its own cluster. */
export function bcubed(labels: readonly number[], truth: readonly string[]): { precision: number; recall: number } {
  const key = labels.map((l, i) => (l < 0 ? `solo${i}` : `c${l}`));
  const clusterSize = new Map<string, number>();
  const personSize = new Map<string, number>();
  const both = new Map<string, number>();
  key.forEach((k, i) => {
    clusterSize.set(k, (clusterSize.get(k) ?? 0) + 1);
    personSize.set(truth[i]!, (personSize.get(truth[i]!) ?? 0) + 1);
    const b = `${k}\u0000${truth[i]}`;
    both.set(b, (both.get(b) ?? 0) + 1);
  });
  let p = 0;
  let r = 0;
  key.forEach((k, i) => {
    const same = both.get(`${k}\u0000${truth[i]}`)!;
    p += same / clusterSize.get(k)!;
    r += same / personSize.get(truth[i]!)!;
  });
  const n = Math.max(1, key.length);
  return { precision: p / n, recall: r / n };
}

/**
 * Offline average-linkage agglomerative clustering of every face at once, cut at `radius`
 * (nearest-neighbour chain on the full distance matrix: O(n^2) memory and time). Faces too poor
 * to start a cluster take part too: offline there is no "start".
 */
export function agglomerative(faces: readonly SimFace[], radius: number): { labels: number[]; clusters: number; ms: number } {
  const t0 = performance.now();
  const n = faces.length;
  const d = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i * n + j] = d[j * n + i] = euclidean(faces[i]!.descriptor, faces[j]!.descriptor);
  const size = new Int32Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const done = new Uint8Array(n);
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const nearestOf = (a: number): [number, number] => {
    let best = -1;
    let bd = Infinity;
    for (let j = 0; j < n; j++) if (j !== a && active[j] && d[a * n + j]! < bd) (bd = d[a * n + j]!), (best = j);
    return [best, bd];
  };
  const chain: number[] = [];
  for (;;) {
    if (chain.length === 0) {
      let start = -1;
      for (let i = 0; i < n; i++) if (active[i] && !done[i]) (start = i), (i = n);
      if (start < 0) break;
      chain.push(start);
    }
    const a = chain[chain.length - 1]!;
    const [b, bd] = nearestOf(a);
    if (b < 0 || bd > radius) {
      // Nothing within the radius: with a reducible linkage nothing later comes nearer, so a is final.
      done[a] = 1;
      chain.pop();
      continue;
    }
    if (chain.length >= 2 && chain[chain.length - 2] === b) {
      chain.pop();
      chain.pop();
      // Merge b into a (Lance-Williams update for average linkage).
      for (let k = 0; k < n; k++) {
        if (!active[k] || k === a || k === b) continue;
        const v = (size[a]! * d[a * n + k]! + size[b]! * d[b * n + k]!) / (size[a]! + size[b]!);
        d[a * n + k] = d[k * n + a] = v;
      }
      size[a] = size[a]! + size[b]!;
      active[b] = 0;
      parent[find(b)] = find(a);
      // The rest of the chain stays valid: average linkage is reducible.
      continue;
    }
    chain.push(b);
  }
  const ids = new Map<number, number>();
  const labels = faces.map((_, i) => {
    const r = find(i);
    if (!ids.has(r)) ids.set(r, ids.size);
    return ids.get(r)!;
  });
  return { labels, clusters: ids.size, ms: performance.now() - t0 };
}
