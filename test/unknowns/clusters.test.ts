import { describe, expect, it } from 'vitest';
import { absorbedDigest, chooseRepresentatives, clusterToJoin, joinCluster, mergedInto, mergeInto, nearestCluster, planRecluster, templateOf, wantsRecluster, wouldMerge } from '../../src/unknowns/clusters.js';
import { CLUSTER_RADIUS, MAX_RECENT_SIGHTINGS, MAX_REPRESENTATIVES, MERGE_RULE, MIN_CLUSTER_QUALITY, mayStartCluster, mergeLimit, type MergeRule } from '../../src/unknowns/rules.js';
import type { UnknownCluster } from '../../src/store/ports.js';
import { euclidean } from '../../src/recognition/matcher.js';
import { aCluster, aDescriptor } from '../helpers/builders.js';
import { near } from '../helpers/unknowns.js';

const rep = (id: string, descriptor: Float32Array) => ({ id, descriptor, jobId: `j-${id}`, at: '2026-01-01T00:00:00.000Z' });
const sighting = (n: number) => ({ jobId: `job-${n}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(), box: { x: 0, y: 0, width: 80, height: 80 } });

describe('unknown cluster rules', () => {
  it('a face too small or too unsure does not start a cluster', () => {
    expect(mayStartCluster({ box: { x: 0, y: 0, width: 80, height: 90 }, score: 0.9 })).toBe(true);
    expect(mayStartCluster({ box: { x: 0, y: 0, width: 30, height: 90 }, score: 0.9 })).toBe(false);
    expect(mayStartCluster({ box: { x: 0, y: 0, width: 80, height: 90 }, score: 0.3 })).toBe(false);
  });

  it('a face under the enrollment quality bar does not start a cluster; one at it does', () => {
    const q = (score: number) => ({ sharpness: 0.5, brightness: 0.5, size: 1, score });
    expect(mayStartCluster({ box: { x: 0, y: 0, width: 80, height: 90 }, score: 0.9, quality: q(MIN_CLUSTER_QUALITY - 0.01) })).toBe(false);
    expect(mayStartCluster({ box: { x: 0, y: 0, width: 80, height: 90 }, score: 0.9, quality: q(MIN_CLUSTER_QUALITY) })).toBe(true);
  });

  it('picks representatives for coverage: a far face is kept over near-duplicates of the first', () => {
    const reps = [rep('a', near(1, 0, 0)), ...[1, 2, 3, 4, 5, 6].map((k) => rep(`dup${k}`, near(1, k, 0.01))), rep('far', near(1, 9, 0.4))];
    const chosen = chooseRepresentatives(reps, 3);
    expect(chosen.map((r) => r.id)).toContain('a');
    expect(chosen.map((r) => r.id)).toContain('far');
    expect(chosen).toHaveLength(3);
    expect(chooseRepresentatives(reps.slice(0, 2), 3)).toHaveLength(2);
  });

  it('joining counts the sighting, bounds recent sightings and representatives, and skips a redundant representative', () => {
    let c = aCluster(1, { representatives: [rep('r0', aDescriptor(1))] });
    const dropped: string[] = [];
    for (let n = 1; n <= 30; n++) {
      const change = joinCluster(c, sighting(n), rep(`r${n}`, near(1, n, 0.3)));
      dropped.push(...change.dropped.map((r) => r.id));
      c = change.cluster;
    }
    expect(c.sightings).toBe(31);
    expect(c.recent).toHaveLength(MAX_RECENT_SIGHTINGS);
    expect(c.recent[0]!.jobId).toBe('job-30');
    expect(c.representatives.length).toBe(MAX_REPRESENTATIVES);
    expect(c.representatives[0]!.id).toBe('r0');
    expect(dropped.length + c.representatives.length).toBe(31);
    const redundant = joinCluster(c, sighting(31), rep('same', Float32Array.from(c.representatives[1]!.descriptor)));
    expect(redundant.cluster.representatives.map((r) => r.id)).not.toContain('same');
  });

  it('finds the nearest open cluster and ignores named ones', () => {
    const a = aCluster(1);
    const b = aCluster(2, { state: 'named', identity: 'Bo' });
    expect(nearestCluster(near(1, 3, 0.1), [a, b])?.cluster.id).toBe(a.id);
    expect(nearestCluster(aDescriptor(2), [b])).toBeNull();
  });

  it('merges into the survivor once: repeating the merge counts nothing twice', () => {
    const a = aCluster(1, { sightings: 3 });
    const b = aCluster(2, { sightings: 2, firstSeen: '2025-12-31T00:00:00.000Z' });
    const once = mergeInto(a, [b]).cluster;
    expect(once.sightings).toBe(5);
    expect(once.firstSeen).toBe('2025-12-31T00:00:00.000Z');
    expect(JSON.stringify(once.absorbed)).not.toContain(b.id);
    expect(mergeInto(once, [b]).cluster.sightings).toBe(5);
  });

  it('plans recluster over clusters that came within the merge limit, into the oldest, and plans nothing the second time', () => {
    const old = aCluster(1, { firstSeen: '2026-01-01T00:00:00.000Z', representatives: [rep('x', near(5, 1, 0))] });
    const twin = aCluster(2, { firstSeen: '2026-01-02T00:00:00.000Z', representatives: [rep('y', near(5, 2, mergeLimit(1, 1) * 0.8))] });
    const other = aCluster(3, { representatives: [rep('z', aDescriptor(9))] });
    expect(euclidean(old.representatives[0]!.descriptor, twin.representatives[0]!.descriptor)).toBeLessThan(mergeLimit(1, 1));
    const plan = planRecluster([twin, other, old]);
    expect(plan.map((g) => [g.survivor.id, g.others.map((o) => o.id)])).toEqual([[old.id, [twin.id]]]);
    const merged = mergeInto(plan[0]!.survivor, plan[0]!.others).cluster;
    expect(planRecluster([merged, other])).toEqual([]);
  });

  it('a face joins by the template, the mean of every face that joined, not by the nearest representative', () => {
    // Representatives at +-0.4 around a centre: a face at the centre is 0.4 from each of them but on the template.
    let c = aCluster(1, { representatives: [rep('a', near(7, 1, 0.4))] });
    c = joinCluster(c, sighting(1), rep('b', Float32Array.from(near(7, 1, 0.4), (v, i) => 2 * aDescriptor(7)[i]! - v))).cluster;
    expect(c.template?.faces).toBe(2);
    expect(euclidean(templateOf(c)!.mean, aDescriptor(7))).toBeLessThan(1e-5);
    expect(clusterToJoin(aDescriptor(7), [c], 0.1)?.cluster.id).toBe(c.id);
    // A face too poor to represent counts as a sighting but does not move the template.
    const poor = joinCluster(c, sighting(2)).cluster;
    expect(poor.sightings).toBe(3);
    expect(poor.template).toEqual(c.template);
    // Beyond the radius from the template, nothing to join.
    expect(clusterToJoin(near(7, 3, CLUSTER_RADIUS + 0.05), [c])).toBeNull();
    // A cluster stored without a template is matched by the mean of its representatives.
    const old = aCluster(2, { representatives: [rep('x', near(9, 1, 0.2)), rep('y', Float32Array.from(near(9, 1, 0.2), (v, i) => 2 * aDescriptor(9)[i]! - v))] });
    expect(euclidean(templateOf(old)!.mean, aDescriptor(9))).toBeLessThan(1e-5);
  });

  it('merging averages the templates by their faces', () => {
    const a = aCluster(1, { template: { mean: Float32Array.from(aDescriptor(4)), faces: 3 } });
    const b = aCluster(2, { template: { mean: Float32Array.from(near(4, 2, 0.2)), faces: 1 } });
    const merged = mergeInto(a, [b]).cluster.template!;
    expect(merged.faces).toBe(4);
    expect(merged.mean[5]).toBeCloseTo((3 * aDescriptor(4)[5]! + near(4, 2, 0.2)[5]!) / 4, 5);
  });

  it('recluster does not chain: a cluster near the edge of a merged pair but not near its template stays apart', () => {
    // Three clusters of five faces on a line, 0.9 of their merge limit apart: single linkage would join all three.
    const step = mergeLimit(5, 5) * 0.9;
    const dir = Float32Array.from(aDescriptor(3), (_, i) => Math.cos(i * 7));
    const norm = Math.hypot(...dir);
    const at = (k: number) => Float32Array.from(aDescriptor(3), (v, i) => v + (k * step * dir[i]!) / norm);
    const one = (seed: number, k: number, faces: number) => aCluster(seed, { representatives: [rep(`r${seed}`, at(k))], template: { mean: at(k), faces } });
    const plan = planRecluster([one(1, 0, 5), one(2, 1, 5), one(3, 2.05, 5)]);
    expect(plan).toHaveLength(1);
    expect(plan[0]!.others.map((o) => o.id)).toEqual([aCluster(2).id]);
  });

  it('a face about as near two clusters joins neither when the join margin asks for more', () => {
    const a = aCluster(1, { representatives: [rep('a', near(6, 1, 0.1))] });
    const b = aCluster(2, { representatives: [rep('b', near(6, 2, 0.1))] });
    const face = aDescriptor(6);
    const gap = Math.abs(euclidean(face, near(6, 1, 0.1)) - euclidean(face, near(6, 2, 0.1)));
    expect(clusterToJoin(face, [a, b], 0.5, 0)).not.toBeNull();
    expect(clusterToJoin(face, [a, b], 0.5, gap + 0.01)).toBeNull();
    expect(clusterToJoin(face, [a], 0.5, gap + 0.01)?.cluster.id).toBe(a.id);
  });

  it('the merge limit tightens as the templates average more faces', () => {
    // Two single faces may be far apart and the same person; two means of many faces only when they agree.
    // The figures docs/unknowns.md gives for the default rule.
    expect({ floor: MERGE_RULE.floor, spread: MERGE_RULE.spread, cap: MERGE_RULE.cap }).toEqual({ floor: 0.25, spread: 0.25, cap: 0.48 });
    expect(MERGE_RULE.stray).toEqual({ faces: 1, limit: 0.45, margin: 0.1 });
    expect([mergeLimit(1, 1), mergeLimit(1, 1e9), mergeLimit(5, 5), mergeLimit(20, 20)].map((v) => v.toFixed(2))).toEqual(['0.43', '0.35', '0.30', '0.26']);
    expect(mergeLimit(20, 20)).toBeLessThan(mergeLimit(5, 5));
    expect(mergeLimit(5, 5)).toBeLessThan(mergeLimit(1, 5));
    expect(mergeLimit(1e6, 1e6)).toBeCloseTo(MERGE_RULE.floor, 3);
    const at = (seed: number, faces: number, eps: number) => aCluster(seed, { template: { mean: near(4, 1, eps), faces } });
    const gap = (mergeLimit(1, 1) + mergeLimit(20, 20)) / 2;
    expect(wouldMerge(at(1, 1, 0), at(2, 1, gap))).toBe(true);
    expect(wouldMerge(at(1, 20, 0), at(2, 20, gap))).toBe(false);
    expect(planRecluster([at(1, 1, 0), at(2, 1, gap)])).toHaveLength(1);
    expect(planRecluster([at(1, 20, 0), at(2, 20, gap)])).toEqual([]);
    // Named clusters are never merged.
    expect(wouldMerge(at(1, 1, 0), { ...at(2, 1, 0.01), state: 'named', identity: 'Bo' })).toBe(false);
  });

  it("a survivor keeps this merge's digests however many its others had absorbed, so a retry counts nothing twice", () => {
    const s = aCluster(1, { sightings: 1 });
    const o1 = aCluster(2, { sightings: 2 });
    const o2 = aCluster(3, { sightings: 3, absorbed: Array.from({ length: 80 }, (_, i) => absorbedDigest(`unk_x${i}`)) });
    const once = mergeInto(s, [o1, o2]).cluster;
    expect(once.sightings).toBe(6);
    expect(once.absorbed.length).toBeLessThanOrEqual(64);
    expect(mergeInto(once, [o1, o2]).cluster.sightings).toBe(6);
    expect(mergedInto([once], o1.id)?.id).toBe(s.id);
    expect(mergedInto([once], o2.id)?.id).toBe(s.id);
    // Of the 80 ids o2 had absorbed, the newest still lead here; the oldest were dropped to stay within 64.
    expect(mergedInto([once], 'unk_x79')?.id).toBe(s.id);
    expect(mergedInto([once], 'unk_x0')).toBeNull();
    expect(mergedInto([once], aCluster(9).id)).toBeNull();
  });

  it('plans the same merges as taking the nearest allowed pair over all pairs each time, then the strays', () => {
    // Forty clusters around eight centres, with 1 to 12 faces each: merges and refusals both happen.
    const clusters: UnknownCluster[] = [];
    for (let i = 0; i < 40; i++) {
      const faces = 1 + ((i * 7) % 12);
      clusters.push(aCluster(i + 1, { template: { mean: near(20 + (i % 8), i, 0.05 + ((i * 13) % 10) * 0.045), faces } }));
    }
    const noStray: MergeRule = { floor: MERGE_RULE.floor, spread: MERGE_RULE.spread, cap: MERGE_RULE.cap };
    const plain = planRecluster(clusters, noStray);
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.reduce((n, g) => n + g.others.length, 0)).toBeLessThan(32);
    expect(groupsOf(plain)).toEqual(groupsOf(bruteForcePlan(clusters, noStray)));
    // Strays far from every centre, so the pairs alone leave them: the stray step attaches some.
    const strays = [0, 1, 2, 3].map((k) => aCluster(60 + k, { template: { mean: near(20 + k, 50 + k, MERGE_RULE.stray!.limit * 0.95), faces: 1 } }));
    const withStrays = planRecluster([...clusters, ...strays]);
    const attached = strays.filter((c) => withStrays.some((g) => g.others.includes(c) || g.survivor === c));
    expect(attached.length).toBeGreaterThan(0);
    expect(groupsOf(withStrays)).toEqual(groupsOf(bruteForcePlan([...clusters, ...strays], MERGE_RULE)));
  });

  it('recluster attaches a stray to the established cluster it is clearly nearest, and leaves one between two of them, or too far', () => {
    const stray = MERGE_RULE.stray!;
    const big = (seed: number, mean: Float32Array) => aCluster(seed, { template: { mean, faces: stray.faces + 4 }, firstSeen: '2026-01-01T00:00:00.000Z' });
    const small = (seed: number, mean: Float32Array, faces = 1) => aCluster(seed, { template: { mean, faces }, firstSeen: '2026-02-01T00:00:00.000Z' });
    // Beyond the merge limit of a single face and a big cluster, within the stray limit.
    const d = (mergeLimit(1, stray.faces + 4) + stray.limit) / 2;
    const a = big(1, aDescriptor(30));
    const b = big(2, aDescriptor(31));
    const odd = small(3, near(30, 4, d));
    expect(euclidean(odd.template!.mean, a.template!.mean)).toBeGreaterThan(mergeLimit(1, stray.faces + 4));
    expect(wouldMerge(odd, a)).toBe(false);
    expect(euclidean(odd.template!.mean, b.template!.mean) - d).toBeGreaterThan(stray.margin);
    const plan = planRecluster([a, b, odd]);
    expect(groupsOf(plan)).toEqual([[a.id, odd.id].sort()]);
    expect(plan[0]!.survivor.id).toBe(a.id);
    expect(wantsRecluster(odd, [a, b, odd])).toBe(true);
    // Run again over the merged result: nothing more.
    const merged = mergeInto(plan[0]!.survivor, plan[0]!.others).cluster;
    expect(planRecluster([merged, b])).toEqual([]);
    // Without the stray step the same three stay apart.
    const noStray: MergeRule = { floor: MERGE_RULE.floor, spread: MERGE_RULE.spread, cap: MERGE_RULE.cap };
    expect(planRecluster([a, b, odd], noStray)).toEqual([]);
    expect(wantsRecluster(odd, [a, b, odd], noStray)).toBe(false);
    // Between two established clusters at about the same distance: neither.
    const twin = big(4, near(30, 7, 2 * d));
    const mid = Float32Array.from(a.template!.mean, (v, i) => (v + twin.template!.mean[i]!) / 2);
    expect(Math.abs(euclidean(mid, twin.template!.mean) - euclidean(mid, a.template!.mean))).toBeLessThan(1e-4);
    const between = small(5, mid);
    expect(euclidean(mid, a.template!.mean)).toBeLessThan(stray.limit);
    expect(planRecluster([a, twin, between])).toEqual([]);
    expect(wantsRecluster(between, [a, twin, between])).toBe(false);
    // Too far from every established cluster.
    const far = small(6, near(30, 4, stray.limit + 0.05));
    expect(planRecluster([a, b, far])).toEqual([]);
    // A stray only among strays has nothing to attach to; a cluster over the stray size is no stray.
    const e = (mergeLimit(stray.faces, 1) + stray.limit) / 2;
    expect(planRecluster([small(7, aDescriptor(30), stray.faces), small(8, near(30, 4, e))])).toEqual([]);
    expect(planRecluster([big(7, aDescriptor(30)), small(8, near(30, 4, e))])).toHaveLength(1);
    expect(planRecluster([big(9, aDescriptor(40)), big(10, near(40, 4, d))])).toEqual([]);
  });
});

/** Each group's member ids, sorted, for comparing plans. */
function groupsOf(plan: Array<{ survivor: UnknownCluster; others: UnknownCluster[] }>): string[][] {
  return plan.map((g) => [g.survivor.id, ...g.others.map((o) => o.id)].sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/**
 * The recluster plan the slow way: every step, every pair of groups, the nearest the merge rule
 * allows; then each stray (judged against the same groups) to its target; again until nothing changes.
 */
function bruteForcePlan(clusters: readonly UnknownCluster[], rule: MergeRule): Array<{ survivor: UnknownCluster; others: UnknownCluster[] }> {
  type Group = { members: UnknownCluster[]; mean: Float32Array; faces: number };
  const join = (a: Group, b: Group): Group => {
    const faces = a.faces + b.faces;
    return { members: [...a.members, ...b.members], mean: Float32Array.from(a.mean, (v, k) => (v * a.faces + b.mean[k]! * b.faces) / faces), faces };
  };
  let groups: Group[] = clusters.map((c) => ({ members: [c], mean: Float32Array.from(c.template!.mean), faces: c.template!.faces }));
  for (;;) {
    for (;;) {
      let best: [number, number, number] | null = null;
      for (let i = 0; i < groups.length; i++) {
        for (let j = i + 1; j < groups.length; j++) {
          const d = euclidean(groups[i]!.mean, groups[j]!.mean);
          if (d <= mergeLimit(groups[i]!.faces, groups[j]!.faces, rule) && (!best || d < best[2])) best = [i, j, d];
        }
      }
      if (!best) break;
      const [a, b] = [groups[best[0]]!, groups[best[1]]!];
      groups = groups.filter((g) => g !== a && g !== b).concat(join(a, b));
    }
    const s = rule.stray;
    if (!s) break;
    const targets = new Map<Group, Group>();
    for (const g of groups) {
      if (g.faces > s.faces) continue;
      const ranked = groups.filter((o) => o.faces > s.faces).map((o) => [o, euclidean(g.mean, o.mean)] as const).sort((x, y) => x[1] - y[1]);
      const [first, second] = ranked;
      if (first && first[1] <= s.limit && (second?.[1] ?? Infinity) - first[1] >= s.margin) targets.set(g, first[0]);
    }
    if (targets.size === 0) break;
    const grown = new Map<Group, Group>();
    for (const [g, t] of targets) grown.set(t, join(grown.get(t) ?? t, g));
    groups = groups.filter((g) => !targets.has(g) && !grown.has(g)).concat([...grown.values()]);
  }
  return groups.filter((g) => g.members.length > 1).map((g) => ({ survivor: g.members[0]!, others: g.members.slice(1) }));
}
