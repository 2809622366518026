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
import { BLEND_CANDIDATES, cohortScore, COHORT_SIZE, decideDistances, identityDistance, type MatchRule } from '../../src/recognition/decision.js';

/** Identities kept per probe (nearest by their nearest face): enough for any rule (`ruleCandidates`). */
const KEEP = Math.max(1 + COHORT_SIZE, BLEND_CANDIDATES);
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

/** A probe's answer before any rule: its nearest identities. */
export interface Scored {
  mated: boolean;
  /** Mated: the person has K + 1 or more images. */
  enough: boolean;
  /** The {@link KEEP} nearest identities' nearest-face distances, nearest first; empty when the probe has no face or the gallery is empty. */
  near: Float64Array;
  /** The same identities' template distances (mean of each identity's enrolled faces). */
  tmpl: Float64Array;
  /** Where the probe's own identity is in `near`, or -1. */
  own: number;
}

/** A probe as a rule with a given template weight sees it: identities re-ranked on their blended distance. */
export interface View {
  mated: boolean;
  enough: boolean;
  /** Distances the rule sees (`identityDistance`, src/recognition/decision.ts), nearest first. */
  d: Float64Array;
  /** cohortScore(d), computed once for the tuning grid. */
  z: number | null;
  /** The nearest identity is the probe's own. */
  correct: boolean;
}

/** The matcher's re-ranking (src/recognition/matcher.ts) of a probe's identities at template weight `w`. */
export function viewOf(s: Scored, w: number): View {
  const order = Array.from(s.near, (_, i) => i);
  const dist = Array.from(s.near, (n, i) => identityDistance(n, s.tmpl[i]!, w));
  if (w) order.sort((a, b) => dist[a]! - dist[b]! || a - b);
  const d = Float64Array.from(order, (i) => dist[i]!);
  return { mated: s.mated, enough: s.enough, d, z: cohortScore(d), correct: s.mated && s.own >= 0 && order[0] === s.own };
}

export interface Protocol {
  identities: number;
  faces: number;
  scored: Scored[];
  /** Views by template weight, made on first use. */
  views: Map<number, View[]>;
}

/** The probes of `p` as a rule with template weight `w` sees them. */
export function views(p: Protocol, w: number): View[] {
  let v = p.views.get(w);
  if (!v) p.views.set(w, (v = p.scored.map((s) => viewOf(s, w))));
  return v;
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
  // Each identity's template: the mean of its enrolled faces (the gallery index keeps the same).
  const tmplOf = new Map<number, Float32Array>();
  {
    const sums = new Map<number, { sum: Float64Array; n: number }>();
    for (const g of gallery) {
      const e = sums.get(g.person) ?? { sum: new Float64Array(dim), n: 0 };
      for (let q = 0; q < dim; q++) e.sum[q] += g.d[q];
      e.n++;
      sums.set(g.person, e);
    }
    for (const [person, e] of sums) tmplOf.set(person, Float32Array.from(e.sum, (x) => x / e.n));
  }
  const matrix = new Float32Array(gallery.length * dim);
  gallery.forEach((g, i) => matrix.set(g.d, i * dim));
  const owner = Int32Array.from(gallery.map((g) => g.person));
  const best = new Float64Array(people.length);
  const identities = [...new Set(owner)];
  const scored = probes.map((pr): Scored => {
    const none: Scored = { mated: pr.mated, enough: pr.enough, near: new Float64Array(0), tmpl: new Float64Array(0), own: -1 };
    if (!pr.d || gallery.length === 0) return none;
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
    if (topD.length === 0) return none;
    const probe = pr.d;
    const tmpl = Float64Array.from(topI, (g) => {
      const t = tmplOf.get(g)!;
      let s = 0;
      for (let q = 0; q < dim; q++) s += (probe[q] - t[q]) ** 2;
      return Math.sqrt(s);
    });
    return { mated: pr.mated, enough: pr.enough, near: Float64Array.from(topD, Math.sqrt), tmpl, own: pr.mated ? topI.indexOf(pr.person) : -1 };
  });
  return { identities: new Set(owner).size, faces: gallery.length, scored, views: new Map() };
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
const named = (v: View, rule: MatchRule): boolean => decideDistances(v.d, rule) === null;

/** A view's closeness score under margin weight `a`: d1 - a x (d2 - d1), as `decideDistances` computes it. */
const closeness = (d: Float64Array, a: number): number => d[0]! - a * (d.length > 1 ? d[1]! - d[0]! : 0);

/**
 * The same decision with the probe's cohort score precomputed (by the service's `cohortScore`):
 * the tuning grid makes it hundreds of millions of times. `rates` checks it against {@link named}.
 */
const namedFast = (v: View, rule: MatchRule): boolean => {
  const d = v.d;
  if (d.length === 0 || !(closeness(d, rule.marginWeight ?? 0) <= rule.threshold)) return false;
  if (d.length > 1 && d[1] - d[0] < rule.margin) return false;
  return !rule.cohort || v.z === null || v.z >= rule.cohort;
};

export function rates(p: Protocol, rule: MatchRule, fast = false): Rates {
  let mated = 0, non = 0, enough = 0, rank1 = 0, hits = 0, hitsEnough = 0, falsePos = 0, wrong = 0;
  for (const s of views(p, rule.templateWeight ?? 0)) {
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

type Curve = Array<{ threshold: number; margin: number; cohort: number; fpir: number; fnir: number }>;

/** FNIR and FPIR over {@link THRESHOLDS} at `rule`'s margin, cohort and weights: one DET curve. */
export function detCurve(p: Protocol, rule: Omit<MatchRule, 'threshold'>): Curve {
  return THRESHOLDS.map((threshold) => {
    const r = rates(p, { ...rule, threshold }, true);
    return { threshold, margin: rule.margin, cohort: rule.cohort ?? 0, fpir: r.fpir, fnir: r.fnir };
  });
}

/** Lowest FNIR on a curve with FPIR <= `fpir` (null when no point reaches it). */
export function fnirAt(curve: Array<{ fpir: number; fnir: number }>, fpir: number): number | null {
  const ok = curve.filter((c) => c.fpir <= fpir);
  return ok.length ? Math.min(...ok.map((c) => c.fnir)) : null;
}

/** Cohort scores {@link tuneRule} can try: 0 (off) and 1-6 in steps of 0.25. */
export const COHORTS = [0, ...Array.from({ length: 21 }, (_, i) => 1 + i * 0.25)];

/** The grid {@link tuneRule} searches besides thresholds and margins. */
export interface TuneGrid {
  cohorts: readonly number[];
  marginWeights: readonly number[];
  templateWeights: readonly number[];
}

/** Template weights 0-1 by 0.25, margin weights 0-1.5 by 0.25, cohort off. */
export const DEFAULT_GRID: TuneGrid = { cohorts: [0], marginWeights: [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5], templateWeights: [0, 0.25, 0.5, 0.75, 1] };

/**
 * The rule with the lowest summed FNIR over `objectives` whose FPIR is at most each
 * constraint's on its protocol, over thresholds ({@link THRESHOLDS} from 0.3), margins 0-0.15 in
 * steps of 0.005 and `grid`. A probe is named at threshold T when it passes the margin and cohort
 * checks and its closeness score is at most T, so for each other setting the whole threshold sweep
 * is one sort of the passing probes' scores.
 */
export function tuneRule(objectives: Array<{ protocol: Protocol; enough?: boolean }>, constraints: Array<{ protocol: Protocol; fpir: number }>, grid: TuneGrid = DEFAULT_GRID): { rule: MatchRule; fnir: number } | null {
  const thresholds = THRESHOLDS.filter((t) => t >= 0.3);
  /** For each threshold, how many of the probes `pick` selects pass margin and cohort and score within it. */
  const counts = (vs: View[], rule: Omit<MatchRule, 'threshold'>, pick: (v: View) => boolean): Int32Array => {
    const ds: number[] = [];
    for (const v of vs) if (pick(v) && namedFast(v, { ...rule, threshold: Infinity })) ds.push(closeness(v.d, rule.marginWeight ?? 0));
    ds.sort((a, b) => a - b);
    const out = new Int32Array(thresholds.length);
    let j = 0;
    thresholds.forEach((t, i) => {
      while (j < ds.length && ds[j] <= t) j++;
      out[i] = j;
    });
    return out;
  };
  const size = (vs: View[], pick: (v: View) => boolean) => vs.filter(pick).length;
  const stranger = (v: View) => !v.mated;
  const hit = (enough: boolean) => (v: View) => v.correct && (!enough || v.enough);
  const mated = (enough: boolean) => (v: View) => v.mated && (!enough || v.enough);
  let best: { rule: MatchRule; fnir: number } | null = null;
  for (const templateWeight of grid.templateWeights) {
    const cv = constraints.map((c) => ({ c, vs: views(c.protocol, templateWeight) }));
    const ov = objectives.map((o) => ({ o, vs: views(o.protocol, templateWeight) }));
    for (const marginWeight of grid.marginWeights)
      for (const cohort of grid.cohorts)
        for (let m = 0; m <= 30; m++) {
          const margin = Math.round(m * 0.005 * 1e4) / 1e4;
          const part = { margin, cohort, marginWeight, templateWeight };
          const fp = cv.map(({ c, vs }) => ({ c, named: counts(vs, part, stranger), n: size(vs, stranger) }));
          const tp = ov.map(({ o, vs }) => ({ named: counts(vs, part, hit(Boolean(o.enough))), n: size(vs, mated(Boolean(o.enough))) }));
          thresholds.forEach((threshold, i) => {
            if (fp.some(({ c, named, n }) => (n ? named[i] / n : 0) > c.fpir)) return;
            const fnir = tp.reduce((sum, { named, n }) => sum + (n ? 1 - named[i] / n : 0), 0);
            if (!best || fnir < best.fnir - 1e-12) best = { rule: { threshold, ...part }, fnir };
          });
        }
  }
  return best;
}
