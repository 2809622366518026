/**
 * bench:quality's `--pairs all` protocol (docs/face-quality.md): every LFW image, people split
 * in two by name (seeded); within each half every genuine pair and a seeded sample of impostor
 * pairs; band edges at equal shares of the development half's pairs, applied to both halves.
 */
import { euclidean } from '../../src/recognition/matcher.js';
import { edc, fmrAt, fnmrBootstrap, genuineIndex, nonMatches, pairWeights, thresholdAtFmr, weightedRate, type Interval, type Weighting } from './quality-fnmr.js';
import { bandEdges, bandOf, bandRates, falling, genuinePairs, impostorPairs, personBootstrap, scorePairs, splitNames, type BandRates, type ScoredPairs } from './quality-pairs.js';

/** The shares of genuine pairs the EDC discards, lowest quality first. */
export const EDC_DISCARDS = [0, 0.05, 0.1, 0.2, 0.3];

export interface AllPairsInput {
  /** Image paths relative to `<lfw>/images`; the person is the folder. */
  images: string[];
  /** Per image: its quality score (0 for an image without a face) and its descriptor (null without a face). */
  score: (image: string) => number;
  descriptor: (image: string) => Float32Array | null;
  seed: number;
  /** Impostor pairs per half. */
  impostors: number;
  bands: number;
  threshold: number;
  ruleThreshold: number;
  replicates: number;
  /** The false-match rate on the development half's impostor pairs that sets the FNMR threshold (1e-3). */
  fmr: number;
}

const impostorDistances = (s: ScoredPairs): Float64Array => s.distance.filter((_, k) => !s.same[k]);

/**
 * FNMR at `threshold` by band and the EDC, each weighted per pair and per person, with
 * people-bootstrap intervals; and the FMR of the half's impostor pairs at that threshold.
 */
export function fnmrReport(s: ScoredPairs, edges: number[], threshold: number, o: { replicates: number; seed: number }) {
  const genuine = genuineIndex(s);
  const flags = nonMatches(s, genuine, threshold);
  const quality = Float64Array.from(genuine, (k) => s.quality[k]);
  const nb = edges.length - 1;
  const count = new Float64Array(nb), errors = new Float64Array(nb), people = Array.from({ length: nb }, () => new Set<number>());
  genuine.forEach((k, i) => {
    const b = bandOf(s.quality[k], edges);
    if (b < 0) return;
    count[b]++; errors[b] += flags[i]; people[b].add(s.personA[k]);
  });
  const imp = new Float64Array(nb), fm = new Float64Array(nb);
  for (let k = 0; k < s.same.length; k++) {
    const b = bandOf(s.quality[k], edges);
    if (s.same[k] || b < 0) continue;
    imp[b]++; if (s.distance[k] <= threshold) fm[b]++;
  }
  const band = Int8Array.from(quality, (q) => bandOf(q, edges));
  const weighted = (weighting: Weighting) => {
    const w = pairWeights(s, genuine, weighting);
    const curve = edc(quality, flags, w, EDC_DISCARDS);
    const boot = fnmrBootstrap(s, genuine, flags, w, { edges, cuts: curve.map((c) => c.cut), replicates: o.replicates, seed: o.seed });
    const bands = Array.from({ length: nb }, (_, b) => ({ fnmr: weightedRate(flags, w, (i) => band[i] === b), personBootstrapCi95: boot.bands[b] }));
    const points = curve.map((c, i) => ({ ...c, personBootstrapCi95: boot.cuts[i] }));
    return {
      bands, bandsFall: falling(bands.map((b) => b.fnmr)), bandsInOrderShare: boot.bandsInOrder, bestBelowPoorestShare: boot.bestBelowPoorest,
      edc: points, edcFalls: falling(points.map((c) => c.fnmr)), edcInOrderShare: boot.cutsInOrder, lastBelowFirstShare: boot.lastBelowFirst,
    };
  };
  return {
    threshold,
    fmr: fmrAt(impostorDistances(s), threshold),
    bands: Array.from({ length: nb }, (_, b) => ({ genuine: count[b], people: people[b].size, falseNonMatches: errors[b], impostor: imp[b], falseMatches: fm[b], fmr: imp[b] ? fm[b] / imp[b] : null })),
    pair: weighted('pair'),
    person: weighted('person'),
  };
}

export type FnmrReport = ReturnType<typeof fnmrReport>;

export function allPairsReport(o: AllPairsInput) {
  const names = o.images.map((im) => im.split('/')[0]);
  const people = [...new Set(names)].sort();
  const personIndex = new Map(people.map((p, i) => [p, i]));
  const personOf = Uint32Array.from(names, (n) => personIndex.get(n)!);
  const score = Float64Array.from(o.images, (im) => o.score(im));
  const desc = o.images.map((im) => o.descriptor(im));
  const distance = (a: number, b: number): number | null => (desc[a] && desc[b] ? euclidean(desc[a]!, desc[b]!) : null);
  const split = splitNames(people, o.seed);

  const half = (which: 'dev' | 'test', seed: number) => {
    const members = o.images.map((_, i) => i).filter((i) => split[which].has(names[i]));
    const genuine = genuinePairs(members, personOf);
    const impostor = impostorPairs(members, personOf, o.impostors, seed);
    const scored = scorePairs(genuine, impostor, { score, personOf, distance, threshold: o.threshold });
    // The person with the most genuine pairs, to show how much one person weighs.
    const perPerson = new Map<number, number>();
    for (let k = 0; k < genuine.length; k += 2) perPerson.set(personOf[genuine[k]], (perPerson.get(personOf[genuine[k]]) ?? 0) + 1);
    const [top, topPairs] = [...perPerson.entries()].sort((a, b) => b[1] - a[1])[0] ?? [0, 0];
    const faceless = members.filter((i) => !desc[i]).length;
    return { which, members, scored, summary: { people: split[which].size, images: members.length, imagesWithoutFace: faceless, genuinePairs: genuine.length / 2, impostorPairs: impostor.length / 2, largestPerson: `${people[top]} (${topPairs} genuine pairs, ${((100 * topPairs) / Math.max(1, genuine.length / 2)).toFixed(1)}%)` } };
  };
  const dev = half('dev', o.seed + 1), test = half('test', o.seed + 2);
  const edges = bandEdges(dev.scored.quality, o.bands);
  // The FNMR threshold: set on the development half's impostor pairs, applied to both halves.
  const atFmr = thresholdAtFmr(impostorDistances(dev.scored), o.fmr);
  const part = (h: typeof dev) => {
    const rates = bandRates(h.scored, edges, o.ruleThreshold);
    const boot = personBootstrap(h.scored, edges, { replicates: o.replicates, seed: o.seed + 3 });
    const s = h.scored;
    let fr = 0, g = 0, fa = 0, im = 0;
    for (let k = 0; k < s.same.length; k++) if (s.same[k]) { g++; fr += s.error[k]; } else { im++; fa += s.error[k]; }
    return {
      ...h.summary,
      frr: fr / Math.max(1, g), far: fa / Math.max(1, im),
      bands: rates.map((r, b) => ({ ...r, personBootstrapCi95: boot[b] })),
      balancedFalls: falling(rates.map((r) => r.balanced)),
      frrFalls: falling(rates.map((r) => r.frr)),
      farFalls: falling(rates.map((r) => r.far)),
      fnmrAtFmr: fnmrReport(s, edges, atFmr, { replicates: o.replicates, seed: o.seed + 4 }),
      fnmrAtVerify: fnmrReport(s, edges, o.threshold, { replicates: o.replicates, seed: o.seed + 5 }),
    };
  };
  return { people: people.length, images: o.images.length, seed: o.seed, edges, fmrTarget: o.fmr, thresholdAtFmr: atFmr, replicates: o.replicates, dev: part(dev), test: part(test) };
}

export type AllPairsReport = ReturnType<typeof allPairsReport>;

/** The report as Markdown tables, development half first. */
export function formatAllPairs(r: AllPairsReport, threshold: number, ruleThreshold: number): string {
  const pct = (v: number | null, d = 2): string => (v === null ? '-' : `${(v * 100).toFixed(d)}%`);
  const ci = (c: [number, number], d = 2): string => `${pct(c[0], d)}-${pct(c[1], d)}`;
  const lines = [`${r.images} images of ${r.people} people, split by person (seed ${r.seed}); verify threshold ${threshold}; bands at equal shares of the development half's pairs (edges ${r.edges.slice(1, -1).map((e) => e.toFixed(3)).join(', ')})`];
  for (const [name, p] of [['development', r.dev], ['held out', r.test]] as const) {
    lines.push('', `${name}: ${p.people} people, ${p.images} images (${p.imagesWithoutFace} without a face), ${p.genuinePairs} genuine pairs, ${p.impostorPairs} impostor pairs; largest person ${p.largestPerson}; FRR ${pct(p.frr)}, FAR ${pct(p.far)}`);
    lines.push('| lower score of the pair | genuine pairs | false rejects | FRR (Wilson 95%) | impostor pairs | false accepts | FAR (Wilson 95%) | balanced error (MOVER 95%) | balanced, people resampled 95% | mean genuine distance | mean impostor distance | genuine over the 1:N threshold |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const b of p.bands as Array<BandRates & { personBootstrapCi95: { balanced: [number, number] } }>) {
      lines.push(`| ${b.band} | ${b.genuine} | ${b.falseRejects} | ${pct(b.frr)} (${ci(b.frrCi95)}) | ${b.impostor} | ${b.falseAccepts} | ${pct(b.far)} (${ci(b.farCi95)}) | ${pct(b.balanced)} (${ci(b.balancedCi95)}) | ${ci(b.personBootstrapCi95.balanced)} | ${b.meanGenuineDistance?.toFixed(3) ?? '-'} | ${b.meanImpostorDistance?.toFixed(3) ?? '-'} | ${pct(b.genuineOverRuleRate, 1)} |`);
    }
    lines.push(`balanced error falls band to band as the score rises: ${p.balancedFalls ? 'yes' : 'no'}; FRR falls: ${p.frrFalls ? 'yes' : 'no'}; FAR falls: ${p.farFalls ? 'yes' : 'no'} (1:N threshold ${ruleThreshold})`);
  }
  for (const [name, p] of [['development', r.dev], ['held out', r.test]] as const) {
    for (const [what, f] of [[`the distance at which ${r.fmrTarget} of the development half's impostor pairs match`, p.fnmrAtFmr], [`verify's ${threshold}`, p.fnmrAtVerify]] as const) {
      lines.push('', ...formatFnmr(name, what, f, r.edges, r.replicates));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** FNMR by band and the EDC of one half at one threshold, as Markdown. */
export function formatFnmr(half: string, what: string, f: FnmrReport, edges: number[], replicates: number): string[] {
  const pct = (v: number | null, d = 2): string => (v === null ? '-' : `${(v * 100).toFixed(d)}%`);
  const ci = (c: Interval, d = 2): string => `${pct(c[0], d)}-${pct(c[1], d)}`;
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  const of = (share: number): string => `${Math.round(share * replicates)} of ${replicates}`;
  const lines = [
    `${half}, FNMR at ${f.threshold.toFixed(4)} (${what}); FMR of this half's impostor pairs ${pct(f.fmr, 3)}`,
    '| lower score of the pair | genuine pairs | people | false non-matches | FNMR per pair (people resampled 95%) | FNMR per person (people resampled 95%) | impostor pairs | FMR |',
    '|---|---|---|---|---|---|---|---|',
  ];
  f.bands.forEach((b, i) => {
    const pa = f.pair.bands[i], pe = f.person.bands[i];
    lines.push(`| ${edges[i].toFixed(3)}-${Math.min(1, edges[i + 1]).toFixed(3)} | ${b.genuine} | ${b.people} | ${b.falseNonMatches} | ${pct(pa.fnmr)} (${ci(pa.personBootstrapCi95)}) | ${pct(pe.fnmr)} (${ci(pe.personBootstrapCi95)}) | ${b.impostor} | ${pct(b.fmr, 3)} |`);
  });
  lines.push(`FNMR falls band to band as the score rises: per pair ${yes(f.pair.bandsFall)} (all bands in order in ${of(f.pair.bandsInOrderShare)} people-resampled replicates; the best band under the poorest in ${of(f.pair.bestBelowPoorestShare)}), per person ${yes(f.person.bandsFall)} (${of(f.person.bandsInOrderShare)}; ${of(f.person.bestBelowPoorestShare)})`);
  lines.push('', `${half}, EDC at ${f.threshold.toFixed(4)}: discard the lowest-scoring genuine pairs, FNMR of the rest`);
  lines.push('| discard | per pair: discarded | score cut | FNMR (people resampled 95%) | per person: discarded | score cut | FNMR (people resampled 95%) |', '|---|---|---|---|---|---|---|');
  f.pair.edc.forEach((a, i) => {
    const b = f.person.edc[i];
    lines.push(`| ${pct(a.target, 0)} | ${pct(a.discarded, 1)} | ${a.cut.toFixed(3)} | ${pct(a.fnmr, 3)} (${ci(a.personBootstrapCi95, 3)}) | ${pct(b.discarded, 1)} | ${b.cut.toFixed(3)} | ${pct(b.fnmr, 3)} (${ci(b.personBootstrapCi95, 3)}) |`);
  });
  lines.push(`FNMR falls as more is discarded: per pair ${yes(f.pair.edcFalls)} (all points in order in ${of(f.pair.edcInOrderShare)} replicates; the last under the first in ${of(f.pair.lastBelowFirstShare)}), per person ${yes(f.person.edcFalls)} (${of(f.person.edcInOrderShare)}; ${of(f.person.lastBelowFirstShare)})`);
  return lines;
}
