/** bench:quality's pair protocol (`--pairs all`): split, pair enumeration, bands and rates, FNMR and EDC. */
import { describe, expect, it } from 'vitest';
import { edc, fmrAt, fnmrBootstrap, genuineIndex, nonMatches, pairWeights, thresholdAtFmr, weightedRate } from '../../scripts/lib/quality-fnmr.js';
import { bandEdges, bandOf, bandRates, genuinePairs, impostorPairs, meanInterval, personBootstrap, scorePairs, splitNames, wilson } from '../../scripts/lib/quality-pairs.js';

const pairsOf = (l: Uint32Array): Array<[number, number]> => Array.from({ length: l.length / 2 }, (_, k) => [l[2 * k], l[2 * k + 1]]);

describe('quality pairs', () => {
  it('splits people in two halves, the same for any input order, and differently for another seed', () => {
    const names = Array.from({ length: 101 }, (_, i) => `P${i}`);
    const a = splitNames(names, 18), b = splitNames([...names].reverse(), 18), c = splitNames(names, 19);
    expect(a.dev.size).toBe(51);
    expect(a.test.size).toBe(50);
    expect([...a.dev].filter((n) => a.test.has(n))).toEqual([]);
    expect([...b.dev].sort()).toEqual([...a.dev].sort());
    expect([...c.dev].sort()).not.toEqual([...a.dev].sort());
  });

  it('enumerates every genuine pair once, within one person', () => {
    // Images 0-2 are person 0, 3-4 person 1, 5 person 2; only images 0, 1, 2, 4, 5 are in this half.
    const personOf = [0, 0, 0, 1, 1, 2];
    const g = pairsOf(genuinePairs([0, 1, 2, 4, 5], personOf));
    expect(g.map(([x, y]) => `${x}-${y}`).sort()).toEqual(['0-1', '0-2', '1-2']);
    expect(genuinePairs([0, 1, 2, 3, 4, 5], personOf).length / 2).toBe(4);
  });

  it('samples distinct impostor pairs of different people from the given images only, repeatably', () => {
    const personOf = Array.from({ length: 40 }, (_, i) => Math.floor(i / 4));
    const half = Array.from({ length: 20 }, (_, i) => i);
    const s = pairsOf(impostorPairs(half, personOf, 60, 7));
    expect(s).toHaveLength(60);
    expect(new Set(s.map(([x, y]) => `${x}-${y}`)).size).toBe(60);
    for (const [x, y] of s) {
      expect(x).toBeLessThan(y);
      expect(personOf[x]).not.toBe(personOf[y]);
      expect(y).toBeLessThan(20);
    }
    expect(pairsOf(impostorPairs(half, personOf, 60, 7))).toEqual(s);
    // 20 images of 5 people: 190 pairs, 30 genuine, 160 impostor; more than half is refused.
    expect(() => impostorPairs(half, personOf, 81, 7)).toThrow(RangeError);
  });

  it('cuts bands at equal shares and puts a score of 1 in the top band', () => {
    const edges = bandEdges([0.9, 0.1, 0.5, 0.3, 0.7, 1], 3);
    expect(edges).toEqual([0, 0.5, 0.9, 1.0001]);
    expect([0, 0.49, 0.5, 0.89, 0.9, 1].map((q) => bandOf(q, edges))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(() => bandEdges([0.5], 1)).toThrow(RangeError);
  });

  it('scores pairs at the threshold and gives FRR, FAR and their mean per band, whatever the mix', () => {
    // Eight images on a line (distance = difference); person = floor(i / 2); scores low for 0-3, high for 4-7.
    const pos = [0, 0.7, 0, 0.3, 0, 0.2, 0, 0.9];
    const personOf = [0, 0, 1, 1, 2, 2, 3, 3];
    const score = [0.2, 0.2, 0.3, 0.3, 0.9, 0.9, 0.95, 0.95];
    const genuine = genuinePairs([0, 1, 2, 3, 4, 5, 6, 7], personOf);
    const impostor = Uint32Array.from([0, 2, 0, 3, 1, 3, 4, 6, 5, 6, 5, 7, 4, 7, 2, 1]);
    const s = scorePairs(genuine, impostor, { score, personOf, distance: (a, b) => (a === 6 && b === 7 ? null : Math.abs(pos[a] - pos[b])), threshold: 0.61 });
    // Genuine: 0-1 (0.7, rejected), 2-3 (0.3), 4-5 (0.2), 6-7 (no face: an error).
    expect(Array.from(s.error.slice(0, 4))).toEqual([1, 0, 0, 1]);
    const [low, high] = bandRates(s, [0, 0.5, 1.0001], 0.4725);
    // Low band: genuine 0-1 and 2-3; impostors 0-2 (0), 0-3 (0.3), 1-3 (0.4) accepted, 2-1 (0.7) rejected.
    expect(low).toMatchObject({ genuine: 2, falseRejects: 1, frr: 0.5, impostor: 4, falseAccepts: 3, far: 0.75, balanced: 0.625, genuineOverRule: 1 });
    // High band: genuine 4-5 and 6-7 (faceless), impostors 4-6 (0), 5-6 (0.2), 5-7 (0.7), 4-7 (0.9).
    expect(high).toMatchObject({ genuine: 2, falseRejects: 1, frr: 0.5, impostor: 4, falseAccepts: 2, far: 0.5, balanced: 0.5, genuineOverRule: 1 });
    expect(high.meanGenuineDistance).toBeCloseTo(0.2);
    expect(high.meanImpostorDistance).toBeCloseTo((0 + 0.2 + 0.7 + 0.9) / 4);
    expect(low.balancedCi95[0]).toBeLessThan(0.625);
    expect(low.balancedCi95[1]).toBeGreaterThan(0.625);
    const boot = personBootstrap(s, [0, 0.5, 1.0001], { replicates: 50, seed: 3 });
    expect(boot).toHaveLength(2);
    for (const b of boot) expect(b.balanced[0]).toBeLessThanOrEqual(b.balanced[1]);
  });

  it('gives intervals that contain the estimate and narrow with more pairs', () => {
    const [lo, hi] = wilson(5, 100), [lo2, hi2] = wilson(50, 1000);
    expect(lo).toBeLessThan(0.05);
    expect(hi).toBeGreaterThan(0.05);
    expect(hi2 - lo2).toBeLessThan(hi - lo);
    const m = meanInterval(0.05, [lo, hi], 0.05, [lo, hi]);
    expect(m[0]).toBeGreaterThan(lo);
    expect(m[1]).toBeLessThan(hi);
  });

  it('sets the threshold at a false-match rate: at most that share of impostor pairs within it, ties and faceless pairs allowed for', () => {
    // 1,000 impostor distances 0.001, 0.002, ..., 1 in shuffled order.
    const d = Array.from({ length: 1000 }, (_, i) => ((i * 389) % 1000 + 1) / 1000);
    expect(thresholdAtFmr(d, 0.01)).toBeCloseTo(0.01, 9);
    expect(fmrAt(d, thresholdAtFmr(d, 0.01))).toBeCloseTo(0.01, 9);
    expect(fmrAt(d, thresholdAtFmr(d, 0.0105))).toBeLessThanOrEqual(0.0105);
    // A tie straddling the tenth place: taking it would let 11 of 1,000 match, so the threshold steps under it.
    const tied = [...d.filter((x) => x > 0.011), 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.01];
    expect(tied).toHaveLength(1000);
    expect(thresholdAtFmr(tied, 0.01)).toBeCloseTo(0.009, 9);
    expect(fmrAt(tied, thresholdAtFmr(tied, 0.01))).toBeCloseTo(0.009, 9);
    // A faceless pair (NaN) never matches but counts in the total.
    expect(fmrAt([0.1, NaN, 0.9, 0.2], 0.5)).toBe(0.5);
    expect(thresholdAtFmr([NaN, 0.3, 0.1, 0.2], 0.5)).toBeCloseTo(0.2, 9);
    expect(() => thresholdAtFmr(d, 0.0005)).toThrow(RangeError);
  });

  it('weighs each person as one: a person with many pairs does not make the person-weighted FNMR', () => {
    // Person 0: 4 images, 6 genuine pairs, none rejected; person 1 and 2: one pair each, person 1's rejected.
    const personOf = [0, 0, 0, 0, 1, 1, 2, 2];
    const pos = [0, 0.1, 0.2, 0.3, 0, 0.9, 0, 0.1];
    const score = [0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.6, 0.6];
    const s = scorePairs(genuinePairs([0, 1, 2, 3, 4, 5, 6, 7], personOf), Uint32Array.from([0, 4, 1, 6]), { score, personOf, distance: (a, b) => Math.abs(pos[a] - pos[b]), threshold: 0.5 });
    const g = genuineIndex(s);
    expect(g).toHaveLength(8);
    const flags = nonMatches(s, g, 0.5);
    expect(Array.from(flags).reduce((a, b) => a + b, 0)).toBe(1);
    const pair = pairWeights(s, g, 'pair'), person = pairWeights(s, g, 'person');
    expect(weightedRate(flags, pair)).toBeCloseTo(1 / 8);
    expect(weightedRate(flags, person)).toBeCloseTo(1 / 3);
    expect(Array.from(person).reduce((a, b) => a + b, 0)).toBeCloseTo(3);
    expect(weightedRate(flags, person, (i) => s.personA[g[i]] === 0)).toBe(0);
    expect(weightedRate(flags, person, () => false)).toBeNull();
    // A looser threshold rejects nothing.
    expect(Array.from(nonMatches(s, g, 1))).toEqual(new Array(8).fill(0));
  });

  it('discards the lowest-quality share of genuine pairs for the EDC, ties together, and gives the FNMR of the rest', () => {
    // Ten pairs of qualities 0.1..1.0; the two poorest are rejected, then the fifth.
    const quality = [0.5, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1];
    const flags = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const ones = new Array(10).fill(1);
    const curve = edc(quality, flags, ones, [0, 0.1, 0.2, 0.3, 0.55]);
    expect(curve.map((c) => c.discarded)).toEqual([0, 0.1, 0.2, 0.3, 0.5]);
    expect(curve.map((c) => c.fnmr)).toEqual([0.3, 2 / 9, 1 / 8, 1 / 7, 0]);
    expect(curve.map((c) => c.cut)).toEqual([0.1, 0.2, 0.3, 0.4, 0.6]);
    // Weights: the poorest pair (index 1) weighs half the total, so discarding 20% of the weight removes nothing.
    const heavy = edc(quality, flags, [1, 9, 1, 1, 1, 1, 1, 1, 1, 1], [0.2, 0.5]);
    expect(heavy[0]).toMatchObject({ discarded: 0, fnmr: 11 / 18 });
    expect(heavy[1].discarded).toBeCloseTo(0.5);
    expect(heavy[1].fnmr).toBeCloseTo(2 / 9);
    // Tied qualities go together: a 10% discard cannot split the two pairs at 0.1.
    const ties = edc([0.1, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], flags, ones, [0.1, 0.2]);
    expect(ties.map((c) => c.discarded)).toEqual([0, 0.2]);
    expect(ties[1].fnmr).toBeCloseTo(1 / 8);
  });

  it('bootstraps FNMR over people by band and above the EDC cuts, with the share of replicates in order', () => {
    // Twenty people with four images each; the poor-quality people's pairs are all rejected, the good ones' none.
    const personOf = Array.from({ length: 80 }, (_, i) => Math.floor(i / 4));
    const score = personOf.map((p) => (p < 10 ? 0.2 : 0.9));
    const s = scorePairs(genuinePairs(personOf.map((_, i) => i), personOf), new Uint32Array(0), { score, personOf, distance: (a) => (personOf[a] < 10 ? 0.9 : 0.1), threshold: 0.5 });
    const g = genuineIndex(s), flags = nonMatches(s, g, 0.5);
    const boot = fnmrBootstrap(s, g, flags, pairWeights(s, g, 'person'), { edges: [0, 0.5, 1.0001], cuts: [0, 0.5], replicates: 100, seed: 4 });
    expect(boot.bands).toEqual([[1, 1], [0, 0]]);
    expect(boot.cuts[1]).toEqual([0, 0]);
    expect(boot.cuts[0][0]).toBeGreaterThan(0.2);
    expect(boot.cuts[0][1]).toBeLessThan(0.8);
    expect(boot.bandsInOrder).toBe(1);
    expect(boot.cutsInOrder).toBe(1);
    expect(boot.bestBelowPoorest).toBe(1);
    expect(boot.lastBelowFirst).toBe(1);
    // Reversed (the good people rejected), no replicate is in order.
    const bad = nonMatches(s, g, 0.5).map((x) => 1 - x);
    const reversed = fnmrBootstrap(s, g, bad, pairWeights(s, g, 'pair'), { edges: [0, 0.5, 1.0001], cuts: [0, 0.5], replicates: 50, seed: 4 });
    expect(reversed).toMatchObject({ bandsInOrder: 0, bestBelowPoorest: 0, lastBelowFirst: 0 });
  });
});
