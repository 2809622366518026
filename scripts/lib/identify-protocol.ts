/**
 * The open-set LFW 1:N protocol (docs/identification.md), on cached descriptors
 * (./lfw-cache.ts). Each image stands for its LFW subject (the face nearest the centre).
 *
 * - Gallery: the first K images with a face of every person with 2 or more images (at most
 *   n - 1 of a person's n, so each keeps a probe); with `all`, also every person with one image.
 * - Mated probes: the other images of the people with 2 or more images.
 * - Non-mated probes: the image of each person with one image, answered with that person's own
 *   identity left out of the gallery (with `all` it is enrolled; without, it never is).
 * With `template`, an identity's enrolled faces are averaged into one descriptor.
 * An image without a face is a mated probe that fails, or a non-mated probe that names nobody.
 */
import { seededRandom } from '../../src/random.js';
import { cohortScore, COHORT_SIZE, decideDistances, type MatchRule } from '../../src/recognition/decision.js';

/** Distances kept per probe: the nearest and its cohort, enough for any rule (`ruleCandidates`). */
const KEEP = 1 + COHORT_SIZE;
import type { CachedImage } from './lfw-cache.js';

export interface Person {
  name: string;
  /** Subject descriptor of each image, sorted by file name; null when no face was found. */
  images: Array<Float32Array | null>;
}

/** People from the cache, grouped by name and sorted, keeping only `keep`. */
export function peopleFrom(cache: Map<string, CachedImage>, keep: Set<string>): Person[] {
  const byName = new Map<string, Array<[string, Float32Array | null]>>();
  for (const c of cache.values()) {
    if (!keep.has(c.person)) continue;
    const d = c.subject === null ? null : c.faces[c.subject].descriptor;
    byName.set(c.person, [...(byName.get(c.person) ?? []), [c.image, d]]);
  }
  return [...byName.keys()].sort().map((name) => ({ name, images: byName.get(name)!.sort((a, b) => a[0].localeCompare(b[0])).map(([, d]) => d) }));
}

/** People split in two by name: shuffled with `seed`, first half for tuning, second for the report. */
export function splitPeople(people: Person[], seed: number): { tune: Person[]; test: Person[] } {
  const order = [...people].sort((a, b) => a.name.localeCompare(b.name));
  const rnd = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = Math.ceil(order.length / 2);
  const byName = (a: Person, b: Person) => a.name.localeCompare(b.name);
  return { tune: order.slice(0, half).sort(byName), test: order.slice(half).sort(byName) };
}

/** A probe's answer before any rule: the distances of its nearest identities. */
export interface Scored {
  mated: boolean;
  /** Mated: the person has K + 1 or more images. */
  enough: boolean;
  /** The {@link KEEP} nearest identities' distances, nearest first; empty when the probe has no face or the gallery is empty. */
  d: Float64Array;
  /** cohortScore(d) (src/recognition/decision.ts), computed once for the tuning grid. */
  z: number | null;
  /** The nearest identity is the probe's own. */
  correct: boolean;
}

export interface Protocol {
  identities: number;
  faces: number;
  scored: Scored[];
}

/**
 * Build the gallery and score every probe. `identities` (optional) limits the gallery to a
 * sample of that many identities (seeded), mated probes to theirs; non-mated probes stay all.
 */
export function runProtocol(people: Person[], o: { k: number; all: boolean; identities?: number; seed: number; template?: boolean }): Protocol {
  const gallery: Array<{ person: number; d: Float32Array }> = [];
  const probes: Array<{ person: number; d: Float32Array | null; mated: boolean; enough: boolean }> = [];
  const enrollable = people.map((p, i) => ({ p, i })).filter(({ p }) => p.images.some((d) => d) && (p.images.length >= 2 || o.all));
  let chosen = new Set(enrollable.map(({ i }) => i));
  if (o.identities !== undefined && o.identities < chosen.size) {
    const rnd = seededRandom(o.seed ^ o.identities);
    const ids = [...chosen];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    chosen = new Set(ids.slice(0, o.identities));
  }
  people.forEach((p, i) => {
    if (p.images.length === 1) {
      probes.push({ person: i, d: p.images[0], mated: false, enough: false });
      if (chosen.has(i) && p.images[0]) gallery.push({ person: i, d: p.images[0] });
      return;
    }
    if (!chosen.has(i)) return;
    const take = Math.min(o.k, p.images.length - 1);
    let enrolled = 0;
    for (const d of p.images) {
      if (d && enrolled < take) {
        gallery.push({ person: i, d });
        enrolled++;
      } else {
        probes.push({ person: i, d, mated: true, enough: p.images.length >= o.k + 1 });
      }
    }
  });
  if (o.template) {
    // One face per identity: the mean of its enrolled descriptors.
    const byPerson = new Map<number, Float32Array[]>();
    for (const g of gallery) byPerson.set(g.person, [...(byPerson.get(g.person) ?? []), g.d]);
    gallery.length = 0;
    for (const [person, ds] of byPerson) gallery.push({ person, d: ds[0].map((_, q) => ds.reduce((sum, d) => sum + d[q], 0) / ds.length) });
  }
  const dim = gallery[0]?.d.length ?? 128;
  const matrix = new Float32Array(gallery.length * dim);
  gallery.forEach((g, i) => matrix.set(g.d, i * dim));
  const owner = Int32Array.from(gallery.map((g) => g.person));
  const best = new Float64Array(people.length);
  const identities = [...new Set(owner)];
  const scored = probes.map((pr): Scored => {
    if (!pr.d || gallery.length === 0) return { mated: pr.mated, enough: pr.enough, d: new Float64Array(0), z: null, correct: false };
    best.fill(Infinity);
    for (let g = 0; g < gallery.length; g++) {
      const who = owner[g];
      if (who === pr.person && !pr.mated) continue; // non-mated: own identity left out
      let s = 0;
      const off = g * dim;
      for (let q = 0; q < dim; q++) {
        const t = pr.d[q] - matrix[off + q];
        s += t * t;
      }
      if (s < best[who]) best[who] = s;
    }
    // The KEEP nearest identities by insertion into a short sorted list.
    const topD: number[] = [], topI: number[] = [];
    for (const g of identities) {
      const v = best[g];
      if (v === Infinity || (topD.length === KEEP && v >= topD[KEEP - 1])) continue;
      let p = topD.length < KEEP ? topD.length : KEEP - 1;
      topD[p] = v;
      topI[p] = g;
      while (p > 0 && topD[p - 1] > v) {
        [topD[p], topD[p - 1]] = [topD[p - 1], topD[p]];
        [topI[p], topI[p - 1]] = [topI[p - 1], topI[p]];
        p--;
      }
    }
    if (topD.length === 0) return { mated: pr.mated, enough: pr.enough, d: new Float64Array(0), z: null, correct: false };
    const d = Float64Array.from(topD, Math.sqrt);
    return { mated: pr.mated, enough: pr.enough, d, z: cohortScore(d), correct: pr.mated && topI[0] === pr.person };
  });
  return { identities: new Set(owner).size, faces: gallery.length, scored };
}

export interface Rates {
  identities: number;
  matedProbes: number;
  nonMatedProbes: number;
  /** Mated probes whose nearest identity is their own, whatever the rule. */
  rank1: number;
  /** Mated probes not named correctly (unknown or wrong). */
  fnir: number;
  /** FNIR over the mated probes of people with K + 1 or more images. */
  fnirEnough: number;
  /** Non-mated probes given a name. */
  fpir: number;
  /** Mated probes given someone else's name. */
  wrongName: number;
}

/** The service's rule (`decideDistances`, src/recognition/decision.ts) on a probe's distances. */
const named = (s: Scored, rule: MatchRule): boolean => decideDistances(s.d, rule) === null;

/**
 * The same decision with the probe's cohort score precomputed (by the service's `cohortScore`):
 * the tuning grid makes it hundreds of millions of times. `rates` checks it against {@link named}.
 */
const namedFast = (s: Scored, rule: MatchRule): boolean => {
  const d = s.d;
  if (d.length === 0 || !(d[0] <= rule.threshold)) return false;
  if (d.length > 1 && d[1] - d[0] < rule.margin) return false;
  return !rule.cohort || s.z === null || s.z >= rule.cohort;
};

export function rates(p: Protocol, rule: MatchRule, fast = false): Rates {
  let mated = 0, non = 0, enough = 0, rank1 = 0, hits = 0, hitsEnough = 0, falsePos = 0, wrong = 0;
  for (const s of p.scored) {
    const n = fast ? namedFast(s, rule) : named(s, rule);
    if (!fast && n !== namedFast(s, rule)) throw new Error('namedFast disagrees with decideDistances');
    if (!s.mated) {
      non++;
      if (n) falsePos++;
      continue;
    }
    mated++;
    if (s.enough) enough++;
    if (s.correct) rank1++;
    if (s.correct && n) {
      hits++;
      if (s.enough) hitsEnough++;
    } else if (n) wrong++;
  }
  const frac = (a: number, b: number) => (b ? a / b : 0);
  return {
    identities: p.identities,
    matedProbes: mated,
    nonMatedProbes: non,
    rank1: frac(rank1, mated),
    fnir: frac(mated - hits, mated),
    fnirEnough: frac(enough - hitsEnough, enough),
    fpir: frac(falsePos, non),
    wrongName: frac(wrong, mated),
  };
}

/** Thresholds 0.200-0.700 in steps of 0.0025. */
export const THRESHOLDS = Array.from({ length: 201 }, (_, i) => Math.round((0.2 + i * 0.0025) * 1e4) / 1e4);

/** FNIR and FPIR over {@link THRESHOLDS} at a fixed margin and cohort: one DET curve. */
export function detCurve(p: Protocol, margin: number, cohort = 0): Array<{ threshold: number; margin: number; cohort: number; fpir: number; fnir: number }> {
  return THRESHOLDS.map((threshold) => {
    const r = rates(p, { threshold, margin, cohort }, true);
    return { threshold, margin, cohort, fpir: r.fpir, fnir: r.fnir };
  });
}

/** Lowest FNIR on a curve with FPIR <= `fpir` (null when no point reaches it). */
export function fnirAt(curve: Array<{ fpir: number; fnir: number }>, fpir: number): number | null {
  const ok = curve.filter((c) => c.fpir <= fpir);
  return ok.length ? Math.min(...ok.map((c) => c.fnir)) : null;
}

/** Cohort scores tried by {@link tuneRule}: 0 (off) and 1-6 in steps of 0.25. */
export const COHORTS = [0, ...Array.from({ length: 21 }, (_, i) => 1 + i * 0.25)];

/**
 * The rule with the lowest summed FNIR over `objectives` whose FPIR is at most each
 * constraint's on its protocol, over a grid of thresholds ({@link THRESHOLDS} from 0.35), margins
 * 0-0.15 in steps of 0.005 and cohort scores ({@link COHORTS}). A probe is named at threshold T
 * when it passes the margin and cohort checks and its nearest distance is at most T, so for each
 * margin and cohort the whole threshold sweep is one sort of the passing probes' distances.
 */
export function tuneRule(objectives: Array<{ protocol: Protocol; enough?: boolean }>, constraints: Array<{ protocol: Protocol; fpir: number }>, cohorts: readonly number[] = COHORTS): { rule: MatchRule; fnir: number } | null {
  const thresholds = THRESHOLDS.filter((t) => t >= 0.35);
  /** For each threshold, how many of the probes `pick` selects pass margin and cohort and lie within it. */
  const counts = (p: Protocol, rule: Omit<MatchRule, 'threshold'>, pick: (s: Scored) => boolean): Int32Array => {
    const ds: number[] = [];
    for (const s of p.scored) if (pick(s) && namedFast(s, { ...rule, threshold: 2 })) ds.push(s.d[0]);
    ds.sort((a, b) => a - b);
    const out = new Int32Array(thresholds.length);
    let j = 0;
    thresholds.forEach((t, i) => {
      while (j < ds.length && ds[j] <= t) j++;
      out[i] = j;
    });
    return out;
  };
  const size = (p: Protocol, pick: (s: Scored) => boolean) => p.scored.filter(pick).length;
  const stranger = (s: Scored) => !s.mated;
  const hit = (enough: boolean) => (s: Scored) => s.correct && (!enough || s.enough);
  const mated = (enough: boolean) => (s: Scored) => s.mated && (!enough || s.enough);
  let best: { rule: MatchRule; fnir: number } | null = null;
  for (const cohort of cohorts) {
    for (let m = 0; m <= 30; m++) {
      const margin = Math.round(m * 0.005 * 1e4) / 1e4;
      const part = { margin, cohort };
      const fp = constraints.map((c) => ({ c, named: counts(c.protocol, part, stranger), n: size(c.protocol, stranger) }));
      const tp = objectives.map((o) => ({ named: counts(o.protocol, part, hit(Boolean(o.enough))), n: size(o.protocol, mated(Boolean(o.enough))) }));
      thresholds.forEach((threshold, i) => {
        if (fp.some(({ c, named, n }) => (n ? named[i] / n : 0) > c.fpir)) return;
        const fnir = tp.reduce((sum, { named, n }) => sum + (n ? 1 - named[i] / n : 0), 0);
        if (!best || fnir < best.fnir - 1e-12) best = { rule: { threshold, margin, cohort }, fnir };
      });
    }
  }
  return best;
}
