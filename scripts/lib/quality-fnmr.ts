/**
 * The quality-validation measures of ISO/IEC 29794-1 and NIST FATE Quality for bench:quality's
 * `--pairs all` (docs/face-quality.md): a quality score is judged by how it predicts false
 * non-matches. The threshold is set at a fixed false-match rate on one half's impostor pairs;
 * then the false non-match rate (FNMR) by band of the pair's lower score, and the
 * Error-versus-Discard Characteristic (EDC: discard the lowest-quality share of genuine pairs,
 * FNMR of the rest). Both weighted per pair and per person (each person's genuine pairs together
 * weigh one), so one person with hundreds of photos does not make the figure.
 */
import { seededRandom } from '../../src/random.js';
import { bandOf, falling, percentileCi95, poisson1, type ScoredPairs } from './quality-pairs.js';

/**
 * The largest threshold t (a distance among the impostor pairs') at which at most `fmr` of the
 * impostor pairs lie within t (distance <= t). A NaN distance (no face) never matches. Throws
 * when there are too few impostor pairs for one false match at that rate.
 */
export function thresholdAtFmr(impostorDistances: ArrayLike<number>, fmr: number): number {
  const n = impostorDistances.length;
  const k = Math.floor(fmr * n + 1e-9);
  if (k < 1) throw new RangeError(`${n} impostor pairs are too few for a false-match rate of ${fmr}`);
  const d = Float64Array.from(impostorDistances).filter((x) => !Number.isNaN(x)).sort();
  if (d.length <= k) return Infinity;
  // d[k - 1] is the k-th closest; step down past ties with the (k+1)-th so no more than k match.
  let i = k - 1;
  while (i >= 0 && d[i] === d[k]) i--;
  return i < 0 ? -Infinity : d[i];
}

/** Share of impostor pairs within `threshold` (a NaN distance never matches). */
export function fmrAt(impostorDistances: ArrayLike<number>, threshold: number): number {
  let m = 0;
  for (let k = 0; k < impostorDistances.length; k++) if (impostorDistances[k] <= threshold) m++;
  return m / Math.max(1, impostorDistances.length);
}

/** Indices of the genuine pairs of `s`. */
export function genuineIndex(s: ScoredPairs): Uint32Array {
  const out: number[] = [];
  for (let k = 0; k < s.same.length; k++) if (s.same[k]) out.push(k);
  return Uint32Array.from(out);
}

/** Per genuine pair (by {@link genuineIndex}): 1 if it is a false non-match at `threshold` (farther apart, or a faceless image). */
export function nonMatches(s: ScoredPairs, genuine: Uint32Array, threshold: number): Uint8Array {
  return Uint8Array.from(genuine, (k) => (Number.isNaN(s.distance[k]) || s.distance[k] > threshold ? 1 : 0));
}

export type Weighting = 'pair' | 'person';

/** Per genuine pair: 1 (`pair`), or 1 over its person's number of genuine pairs (`person`: each person's pairs together weigh one). */
export function pairWeights(s: ScoredPairs, genuine: Uint32Array, weighting: Weighting): Float64Array {
  if (weighting === 'pair') return new Float64Array(genuine.length).fill(1);
  const count = new Map<number, number>();
  for (const k of genuine) count.set(s.personA[k], (count.get(s.personA[k]) ?? 0) + 1);
  return Float64Array.from(genuine, (k) => 1 / count.get(s.personA[k])!);
}

/** The weighted share of `flags` set among the items whose `keep` is true (all when absent); null with no weight. */
export function weightedRate(flags: ArrayLike<number>, weights: ArrayLike<number>, keep?: (i: number) => boolean): number | null {
  let w = 0, e = 0;
  for (let i = 0; i < flags.length; i++) if (!keep || keep(i)) { w += weights[i]; e += weights[i] * flags[i]; }
  return w > 0 ? e / w : null;
}

export interface EdcPoint {
  /** The share of the weight asked to be discarded. */
  target: number;
  /** Pairs with a lower score under this are discarded. */
  cut: number;
  /** The share of the weight discarded: at most `target` (pairs of equal score go together). */
  discarded: number;
  fnmr: number | null;
}

/**
 * The EDC: for each share in `targets`, discard the genuine pairs of lowest quality whose weight
 * is at most that share of the total (pairs of equal quality are discarded together or not at
 * all) and give the weighted FNMR of the rest.
 */
export function edc(quality: ArrayLike<number>, flags: ArrayLike<number>, weights: ArrayLike<number>, targets: number[]): EdcPoint[] {
  const order = Array.from({ length: quality.length }, (_, i) => i).sort((a, b) => quality[a] - quality[b]);
  let total = 0, errors = 0;
  for (let i = 0; i < flags.length; i++) { total += weights[i]; errors += weights[i] * flags[i]; }
  return targets.map((target) => {
    let gone = 0, goneErrors = 0, i = 0;
    while (i < order.length) {
      let j = i, w = 0, e = 0;
      while (j < order.length && quality[order[j]] === quality[order[i]]) { w += weights[order[j]]; e += weights[order[j]] * flags[order[j]]; j++; }
      if (gone + w > target * total * (1 + 1e-12)) break;
      gone += w; goneErrors += e; i = j;
    }
    const cut = i < order.length ? quality[order[i]] : Infinity;
    return { target, cut, discarded: total ? gone / total : 0, fnmr: total - gone > 0 ? (errors - goneErrors) / (total - gone) : null };
  });
}

export type Interval = [number, number];

/**
 * 95% percentile intervals from a bootstrap over people (each person weighted Poisson(1) per
 * replicate, on top of the pair's own weight), for the weighted FNMR per band (`edges`) and for
 * the weighted FNMR of the pairs at or above each quality cut (the EDC's cuts held fixed); and the
 * share of replicates in which each is in order (FNMR never rising from a poorer band to a better
 * one, or as the cut rises), and in which the best band's FNMR is under the poorest's (the last
 * cut's under the first's), which, unlike overlapping intervals, allow for the bands sharing people.
 */
export function fnmrBootstrap(
  s: ScoredPairs, genuine: Uint32Array, flags: ArrayLike<number>, weights: ArrayLike<number>,
  o: { edges: number[]; cuts: number[]; replicates: number; seed: number },
): { bands: Interval[]; cuts: Interval[]; bandsInOrder: number; cutsInOrder: number; bestBelowPoorest: number; lastBelowFirst: number } {
  const nb = o.edges.length - 1, nc = o.cuts.length;
  const band = Int8Array.from(genuine, (k) => bandOf(s.quality[k], o.edges));
  let people = 0;
  for (const k of genuine) people = Math.max(people, s.personA[k] + 1);
  const rnd = seededRandom(o.seed);
  const r = new Float64Array(people);
  const bandDraws = Array.from({ length: nb }, () => [] as number[]), cutDraws = Array.from({ length: nc }, () => [] as number[]);
  let bandsInOrder = 0, cutsInOrder = 0, bestBelowPoorest = 0, lastBelowFirst = 0;
  const ordered = (e: Float64Array, w: Float64Array): boolean => falling(Array.from(e, (x, i) => (w[i] ? x / w[i] : null)));
  for (let rep = 0; rep < o.replicates; rep++) {
    for (let p = 0; p < people; p++) r[p] = poisson1(rnd);
    const bw = new Float64Array(nb), be = new Float64Array(nb), cw = new Float64Array(nc), ce = new Float64Array(nc);
    for (let i = 0; i < genuine.length; i++) {
      const w = weights[i] * r[s.personA[genuine[i]]];
      if (w === 0) continue;
      const e = w * flags[i], q = s.quality[genuine[i]];
      if (band[i] >= 0) { bw[band[i]] += w; be[band[i]] += e; }
      for (let c = 0; c < nc; c++) if (q >= o.cuts[c]) { cw[c] += w; ce[c] += e; }
    }
    for (let b = 0; b < nb; b++) if (bw[b]) bandDraws[b].push(be[b] / bw[b]);
    for (let c = 0; c < nc; c++) if (cw[c]) cutDraws[c].push(ce[c] / cw[c]);
    if (ordered(be, bw)) bandsInOrder++;
    if (ordered(ce, cw)) cutsInOrder++;
    if (bw[0] && bw[nb - 1] && be[nb - 1] / bw[nb - 1] < be[0] / bw[0]) bestBelowPoorest++;
    if (cw[0] && cw[nc - 1] && ce[nc - 1] / cw[nc - 1] < ce[0] / cw[0]) lastBelowFirst++;
  }
  const share = (n: number): number => n / Math.max(1, o.replicates);
  return {
    bands: bandDraws.map(percentileCi95), cuts: cutDraws.map(percentileCi95), bandsInOrder: share(bandsInOrder), cutsInOrder: share(cutsInOrder),
    bestBelowPoorest: share(bestBelowPoorest), lastBelowFirst: share(lastBelowFirst),
  };
}
