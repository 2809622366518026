/**
 * bench:quality's `--pairs all` protocol (docs/face-quality.md): every LFW image, people split
 * in two by name (seeded); within each half every genuine pair and a seeded sample of impostor
 * pairs; band edges at equal shares of the development half's pairs, applied to both halves.
 */
import { euclidean } from '../../src/recognition/matcher.js';
import { bandEdges, bandRates, falling, genuinePairs, impostorPairs, personBootstrap, scorePairs, splitNames, type BandRates } from './quality-pairs.js';

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
}

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
    };
  };
  return { people: people.length, images: o.images.length, seed: o.seed, edges, dev: part(dev), test: part(test) };
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
  return `${lines.join('\n')}\n`;
}
