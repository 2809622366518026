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
import type { MatchRule } from '../../src/recognition/decision.js';
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

/** A probe's answer before any rule: its nearest two identities. */
export interface Scored {
  mated: boolean;
  /** Mated: the person has K + 1 or more images. */
  enough: boolean;
  /** Null when the probe has no face or the gallery is empty. */
  d1: number | null;
  /** Infinity when the gallery holds one identity. */
  d2: number;
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
  const scored = probes.map((pr): Scored => {
    if (!pr.d || gallery.length === 0) return { mated: pr.mated, enough: pr.enough, d1: null, d2: Infinity, correct: false };
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
    let i1 = -1, i2 = -1;
    for (const g of new Set(owner)) {
      if (best[g] === Infinity) continue;
      if (i1 < 0 || best[g] < best[i1]) {
        i2 = i1;
        i1 = g;
      } else if (i2 < 0 || best[g] < best[i2]) i2 = g;
    }
    if (i1 < 0) return { mated: pr.mated, enough: pr.enough, d1: null, d2: Infinity, correct: false };
    return { mated: pr.mated, enough: pr.enough, d1: Math.sqrt(best[i1]), d2: i2 < 0 ? Infinity : Math.sqrt(best[i2]), correct: pr.mated && i1 === pr.person };
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

/** `decide` (src/recognition/decision.ts) on a probe's two nearest distances, inlined: the tuning grid calls it millions of times. */
const named = (s: Scored, rule: MatchRule): boolean => s.d1 !== null && s.d1 <= rule.threshold && s.d2 - s.d1 >= rule.margin;

export function rates(p: Protocol, rule: MatchRule): Rates {
  let mated = 0, non = 0, enough = 0, rank1 = 0, hits = 0, hitsEnough = 0, falsePos = 0, wrong = 0;
  for (const s of p.scored) {
    const n = named(s, rule);
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

/** FNIR and FPIR over {@link THRESHOLDS} at a fixed margin: one DET curve. */
export function detCurve(p: Protocol, margin: number): Array<{ threshold: number; margin: number; fpir: number; fnir: number }> {
  return THRESHOLDS.map((threshold) => {
    const r = rates(p, { threshold, margin });
    return { threshold, margin, fpir: r.fpir, fnir: r.fnir };
  });
}

/** Lowest FNIR on a curve with FPIR <= `fpir` (null when no point reaches it). */
export function fnirAt(curve: Array<{ fpir: number; fnir: number }>, fpir: number): number | null {
  const ok = curve.filter((c) => c.fpir <= fpir);
  return ok.length ? Math.min(...ok.map((c) => c.fnir)) : null;
}

/**
 * The rule with the lowest FNIR on `objective` whose FPIR is at most each constraint's on its
 * protocol, over a grid of thresholds ({@link THRESHOLDS}) and margins 0-0.15 in steps of 0.005.
 */
export function tuneRule(objective: Protocol, constraints: Array<{ protocol: Protocol; fpir: number }>): { rule: MatchRule; rates: Rates } | null {
  let best: { rule: MatchRule; rates: Rates } | null = null;
  for (let m = 0; m <= 30; m++) {
    const margin = Math.round(m * 0.005 * 1e4) / 1e4;
    for (const threshold of THRESHOLDS) {
      const rule = { threshold, margin };
      // FPIR only grows with the threshold: past the first violation, so are all larger ones.
      if (constraints.some((c) => rates(c.protocol, rule).fpir > c.fpir)) break;
      const r = rates(objective, rule);
      if (!best || r.fnir < best.rates.fnir) best = { rule, rates: r };
    }
  }
  return best;
}
