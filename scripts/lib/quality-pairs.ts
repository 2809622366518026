/**
 * The pure parts of bench:quality's protocols (docs/face-quality.md): band edges, Wilson
 * intervals, and the all-LFW pair protocol (`--pairs all`): people split in two by name (seeded),
 * every genuine pair within a half, a seeded sample of impostor pairs within each half, pairs
 * scored at a fixed threshold and reported by band of the pair's lower quality score.
 */
import { seededRandom } from '../../src/random.js';

/** Wilson 95% interval of k events in n. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.96, p = k / n, d = 1 + (z * z) / n;
  const c = p + (z * z) / (2 * n), h = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [(c - h) / d, (c + h) / d];
}

/**
 * 95% interval of the mean of two independent proportions, from their Wilson intervals by
 * Newcombe's MOVER (method of variance estimates recovery): the balanced error's interval.
 */
export function meanInterval(p1: number, ci1: [number, number], p2: number, ci2: [number, number]): [number, number] {
  const m = (p1 + p2) / 2;
  return [m - Math.hypot(p1 - ci1[0], p2 - ci2[0]) / 2, m + Math.hypot(ci1[1] - p1, ci2[1] - p2) / 2];
}

/**
 * Band edges at equal shares of `values` (terciles for 3 bands): [0, q1, ..., 1.0001], so band i
 * is [edges[i], edges[i + 1]) and a score of 1 falls in the last band.
 */
export function bandEdges(values: ArrayLike<number>, bands: number): number[] {
  if (!Number.isInteger(bands) || bands < 2) throw new RangeError('bands must be an integer of at least 2');
  const sorted = Float64Array.from(values).sort();
  return [0, ...Array.from({ length: bands - 1 }, (_, i) => sorted[Math.floor(((i + 1) / bands) * sorted.length)] ?? 0), 1.0001];
}

/** The band of `q` under `edges` ({@link bandEdges}), or -1 outside them. */
export function bandOf(q: number, edges: number[]): number {
  for (let i = 0; i < edges.length - 1; i++) if (q >= edges[i] && q < edges[i + 1]) return i;
  return -1;
}

/** True when `v` (poorest band first) never rises from one band to the next. */
export const falling = (v: Array<number | null>): boolean => v.every((x, i) => i === 0 || x === null || v[i - 1] === null || x <= v[i - 1]!);

/** Names shuffled with `seed` after sorting (so the split does not depend on input order); the first half develops, the second is held out. */
export function splitNames(names: string[], seed: number): { dev: Set<string>; test: Set<string> } {
  const order = [...new Set(names)].sort();
  const rnd = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = Math.ceil(order.length / 2);
  return { dev: new Set(order.slice(0, half)), test: new Set(order.slice(half)) };
}

/** Pairs of image indices, flat: pair k is (pairs[2k], pairs[2k + 1]). */
export type PairList = Uint32Array;

/** Every unordered pair of images of the same person among `images` (indices into `personOf`). */
export function genuinePairs(images: number[], personOf: ArrayLike<number>): PairList {
  const byPerson = new Map<number, number[]>();
  for (const i of images) byPerson.set(personOf[i], [...(byPerson.get(personOf[i]) ?? []), i]);
  let n = 0;
  for (const g of byPerson.values()) n += (g.length * (g.length - 1)) / 2;
  const out = new Uint32Array(2 * n);
  let k = 0;
  for (const g of byPerson.values()) {
    for (let x = 0; x < g.length; x++) for (let y = x + 1; y < g.length; y++) { out[k++] = g[x]; out[k++] = g[y]; }
  }
  return out;
}

/**
 * `count` distinct unordered pairs of images of different people among `images`, drawn uniformly
 * (seeded). Throws when `count` is more than half of the impostor pairs there are (drawing
 * without repeats would slow to a crawl).
 */
export function impostorPairs(images: number[], personOf: ArrayLike<number>, count: number, seed: number): PairList {
  const sizes = new Map<number, number>();
  for (const i of images) sizes.set(personOf[i], (sizes.get(personOf[i]) ?? 0) + 1);
  let same = 0;
  for (const s of sizes.values()) same += (s * (s - 1)) / 2;
  const possible = (images.length * (images.length - 1)) / 2 - same;
  if (count > possible / 2) throw new RangeError(`asked for ${count} impostor pairs of ${possible}: at most half`);
  const rnd = seededRandom(seed);
  const seen = new Set<number>();
  const out = new Uint32Array(2 * count);
  const span = Math.max(...images) + 1;
  let k = 0;
  while (k < count) {
    let a = images[Math.floor(rnd() * images.length)], b = images[Math.floor(rnd() * images.length)];
    if (personOf[a] === personOf[b]) continue;
    if (a > b) [a, b] = [b, a];
    const key = a * span + b;
    if (seen.has(key)) continue;
    seen.add(key);
    out[2 * k] = a; out[2 * k + 1] = b;
    k++;
  }
  return out;
}

/** Scored pairs, one entry per pair, struct of arrays. */
export interface ScoredPairs {
  /** The pair's quality: the lower score of its two images. */
  quality: Float64Array;
  /** Distance between the two descriptors; NaN when either image has no face. */
  distance: Float64Array;
  same: Uint8Array;
  /** Judged wrongly at the threshold: a genuine pair farther than it, an impostor pair at or within it, or a pair with a faceless image. */
  error: Uint8Array;
  /** The people of the two images (equal for a genuine pair), for resampling by person. */
  personA: Uint32Array;
  personB: Uint32Array;
}

/** Score the genuine and impostor pairs: `distance(i, j)` is null when either image has no face. */
export function scorePairs(
  genuine: PairList, impostor: PairList, o: { score: ArrayLike<number>; personOf: ArrayLike<number>; distance: (a: number, b: number) => number | null; threshold: number },
): ScoredPairs {
  const n = (genuine.length + impostor.length) / 2;
  const s: ScoredPairs = { quality: new Float64Array(n), distance: new Float64Array(n), same: new Uint8Array(n), error: new Uint8Array(n), personA: new Uint32Array(n), personB: new Uint32Array(n) };
  let k = 0;
  for (const [list, same] of [[genuine, true], [impostor, false]] as const) {
    for (let p = 0; p < list.length; p += 2, k++) {
      const a = list[p], b = list[p + 1];
      const d = o.distance(a, b);
      s.quality[k] = Math.min(o.score[a], o.score[b]);
      s.distance[k] = d ?? NaN;
      s.same[k] = same ? 1 : 0;
      s.error[k] = d === null || (d <= o.threshold) !== same ? 1 : 0;
      s.personA[k] = o.personOf[a]; s.personB[k] = o.personOf[b];
    }
  }
  return s;
}

export interface BandRates {
  band: string;
  genuine: number;
  falseRejects: number;
  frr: number | null;
  frrCi95: [number, number];
  impostor: number;
  falseAccepts: number;
  far: number | null;
  farCi95: [number, number];
  /** (FRR + FAR) / 2: does not move with the band's mix of genuine and impostor pairs. */
  balanced: number | null;
  /** From the two Wilson intervals (MOVER), treating pairs as independent. */
  balancedCi95: [number, number];
  meanGenuineDistance: number | null;
  meanImpostorDistance: number | null;
  /** Genuine pairs farther apart than `ruleThreshold` (or with a faceless image), of the band's genuine pairs. */
  genuineOverRule: number;
  genuineOverRuleRate: number | null;
}

/** False-reject, false-accept and balanced error rates per band. */
export function bandRates(s: ScoredPairs, edges: number[], ruleThreshold: number): BandRates[] {
  const nb = edges.length - 1;
  const g = new Float64Array(nb), fr = new Float64Array(nb), im = new Float64Array(nb), fa = new Float64Array(nb), over = new Float64Array(nb), dsum = new Float64Array(nb), dn = new Float64Array(nb), isum = new Float64Array(nb), inn = new Float64Array(nb);
  for (let k = 0; k < s.quality.length; k++) {
    const b = bandOf(s.quality[k], edges);
    if (b < 0) continue;
    if (s.same[k]) {
      g[b]++; fr[b] += s.error[k];
      const d = s.distance[k];
      if (Number.isNaN(d) || d > ruleThreshold) over[b]++;
      if (!Number.isNaN(d)) { dsum[b] += d; dn[b]++; }
    } else {
      im[b]++; fa[b] += s.error[k];
      if (!Number.isNaN(s.distance[k])) { isum[b] += s.distance[k]; inn[b]++; }
    }
  }
  return Array.from({ length: nb }, (_, b) => {
    const frr = g[b] ? fr[b] / g[b] : null, far = im[b] ? fa[b] / im[b] : null;
    const frrCi95 = wilson(fr[b], g[b]), farCi95 = wilson(fa[b], im[b]);
    const balanced = frr === null || far === null ? null : (frr + far) / 2;
    return {
      band: `${edges[b].toFixed(3)}-${Math.min(1, edges[b + 1]).toFixed(3)}`,
      genuine: g[b], falseRejects: fr[b], frr, frrCi95,
      impostor: im[b], falseAccepts: fa[b], far, farCi95,
      balanced, balancedCi95: balanced === null ? [0, 1] : meanInterval(frr!, frrCi95, far!, farCi95),
      meanGenuineDistance: dn[b] ? dsum[b] / dn[b] : null,
      meanImpostorDistance: inn[b] ? isum[b] / inn[b] : null,
      genuineOverRule: over[b], genuineOverRuleRate: g[b] ? over[b] / g[b] : null,
    };
  });
}

/**
 * A 95% percentile interval per band for FRR, FAR and the balanced error that allows for pairs
 * sharing images and people: each replicate draws a Poisson(1) weight per person; a genuine pair
 * counts with its person's weight, an impostor pair with the product of its two people's.
 */
export function personBootstrap(s: ScoredPairs, edges: number[], o: { replicates: number; seed: number }): Array<{ frr: [number, number]; far: [number, number]; balanced: [number, number] }> {
  const nb = edges.length - 1;
  const band = Int8Array.from(s.quality, (q) => bandOf(q, edges));
  let people = 0;
  for (let k = 0; k < s.personA.length; k++) people = Math.max(people, s.personA[k] + 1, s.personB[k] + 1);
  const rnd = seededRandom(o.seed);
  const draws = Array.from({ length: nb }, () => ({ frr: [] as number[], far: [] as number[], balanced: [] as number[] }));
  const w = new Float64Array(people);
  for (let r = 0; r < o.replicates; r++) {
    for (let p = 0; p < people; p++) w[p] = poisson1(rnd);
    const g = new Float64Array(nb), fr = new Float64Array(nb), im = new Float64Array(nb), fa = new Float64Array(nb);
    for (let k = 0; k < band.length; k++) {
      const b = band[k];
      if (b < 0) continue;
      if (s.same[k]) { const x = w[s.personA[k]]; g[b] += x; fr[b] += x * s.error[k]; }
      else { const x = w[s.personA[k]] * w[s.personB[k]]; im[b] += x; fa[b] += x * s.error[k]; }
    }
    for (let b = 0; b < nb; b++) {
      if (!g[b] || !im[b]) continue;
      draws[b].frr.push(fr[b] / g[b]); draws[b].far.push(fa[b] / im[b]); draws[b].balanced.push((fr[b] / g[b] + fa[b] / im[b]) / 2);
    }
  }
  return draws.map((d) => ({ frr: percentileCi95(d.frr), far: percentileCi95(d.far), balanced: percentileCi95(d.balanced) }));
}

/** A Poisson(1) draw (Knuth's method), a person's weight in one bootstrap replicate. */
export function poisson1(rnd: () => number): number {
  let k = 0, p = rnd();
  while (p > Math.exp(-1)) { k++; p *= rnd(); }
  return k;
}

/** The 2.5th and 97.5th percentiles of bootstrap draws; [0, 1] when there are none. */
export function percentileCi95(v: number[]): [number, number] {
  if (v.length === 0) return [0, 1];
  const x = [...v].sort((a, b) => a - b);
  return [x[Math.floor(0.025 * (x.length - 1))], x[Math.ceil(0.975 * (x.length - 1))]];
}
