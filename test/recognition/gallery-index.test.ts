import { describe, expect, it } from 'vitest';
import { buildGalleryIndex, GalleryIndexKernel, type IndexedFace } from '../../src/recognition/gallery-index.js';
import { squaredDistance } from '../../src/recognition/hnsw.js';
import type { Candidate } from '../../src/recognition/types.js';
import { seededRandom as rng } from '../../src/random.js';
import { createGalleryIndex } from '../../src/recognition/matcher.js';

/** Faces clustered by identity, like real descriptors: a centre per identity plus noise. */
function syntheticFaces(faces: number, identities: number, seed = 1): IndexedFace[] {
  const r = rng(seed);
  const centres = Array.from({ length: identities }, () => Float32Array.from({ length: 128 }, () => (r() - 0.5) * 0.2));
  return Array.from({ length: faces }, (_, i) => {
    const who = i % identities;
    const c = centres[who]!;
    return { id: `f${i}`, identity: `id-${who}`, descriptor: Float32Array.from(c, (v) => v + (r() - 0.5) * 0.05) };
  });
}

/** The reference: every face's distance, the nearest per identity, sorted. */
function bruteForce(faces: IndexedFace[], q: Float32Array, k: number): Candidate[] {
  const best = new Map<string, number>();
  for (const f of faces) {
    let s = 0;
    for (let i = 0; i < q.length; i++) s += (q[i]! - f.descriptor[i]!) ** 2;
    const d = Math.sqrt(s);
    const prev = best.get(f.identity);
    if (prev === undefined || d < prev) best.set(f.identity, d);
  }
  return [...best]
    .map(([identity, distance]) => ({ identity, distance }))
    .sort((a, b) => a.distance - b.distance || a.identity.localeCompare(b.identity))
    .slice(0, k);
}

function expectSame(got: Candidate[], want: Candidate[]): void {
  expect(got.map((c) => c.identity)).toEqual(want.map((c) => c.identity));
  got.forEach((c, i) => expect(c.distance).toBeCloseTo(want[i]!.distance, 5));
}

describe('GalleryIndexKernel, exact', () => {
  it('gives the same top-k distinct identities as brute force on 20,000 synthetic faces', () => {
    const faces = syntheticFaces(20_000, 4_000);
    // The exact scan at a size the default would hand to the graph: ./gallery-graph.test.ts tests that.
    const index = buildGalleryIndex(faces, 128, { graphAbove: Infinity });
    expect(index.approximate).toBe(false);
    expect(index.size).toBe(20_000);
    expect(index.identities).toBe(4_000);
    const r = rng(7);
    for (let n = 0; n < 40; n++) {
      // Half near an enrolled face, half anywhere.
      const base = n % 2 === 0 ? faces[Math.floor(r() * faces.length)]!.descriptor : new Float32Array(128);
      const q = Float32Array.from(base, (v) => v + (r() - 0.5) * 0.06);
      const k = 1 + (n % 10);
      const got = index.nearest(q, k);
      expect(new Set(got.map((c) => c.identity)).size).toBe(got.length);
      expectSame(got, bruteForce(faces, q, k));
    }
  });

  it('stays equal to a rebuild through adds, face removals and identity removals', () => {
    const all = syntheticFaces(3_000, 300, 3);
    const index = new GalleryIndexKernel(128, 4);
    let live = new Map<string, IndexedFace>();
    const r = rng(11);
    for (const f of all) {
      index.add(f);
      live.set(f.id, f);
      if (r() < 0.2) {
        const victim = [...live.keys()][Math.floor(r() * live.size)]!;
        expect(index.remove(victim)).toBe(true);
        live.delete(victim);
      }
    }
    expect(index.remove('never')).toBe(false);
    const gone = 'id-5';
    expect(index.removeIdentity(gone)).toBe([...live.values()].filter((f) => f.identity === gone).length);
    live = new Map([...live].filter(([, f]) => f.identity !== gone));
    expect(index.size).toBe(live.size);
    for (let n = 0; n < 30; n++) {
      const q = Float32Array.from(all[Math.floor(r() * all.length)]!.descriptor, (v) => v + (r() - 0.5) * 0.04);
      const got = index.nearest(q, 5);
      expect(got.map((c) => c.identity)).not.toContain(gone);
      expectSame(got, bruteForce([...live.values()], q, 5));
    }
  });

  it('replaces a face added twice, refuses a wrong length and answers empty when empty', () => {
    const index = new GalleryIndexKernel(4);
    expect(index.nearest([0, 0, 0, 0], 3)).toEqual([]);
    index.add({ id: 'a', identity: 'Ada', descriptor: [1, 0, 0, 0] });
    index.add({ id: 'a', identity: 'Ada', descriptor: [0, 0, 0, 0] });
    expect(index.size).toBe(1);
    expect(index.nearest([0, 0, 0, 0], 3)).toEqual([{ identity: 'Ada', distance: 0 }]);
    expect(() => index.add({ id: 'b', identity: 'Bob', descriptor: [1, 2] })).toThrow(RangeError);
    // An id UTF-8 cannot hold (a lone surrogate) is refused before anything changes.
    expect(() => index.add({ id: 'b\uDC00', identity: 'Bob', descriptor: [0, 1, 0, 0] })).toThrow(/lone surrogate/);
    expect(index.size).toBe(1);
    expect(index.identities).toBe(1);
    expect(index.nearest([0, 1, 0, 0], 3).map((c) => c.identity)).toEqual(['Ada']);
    index.add({ id: 'b', identity: 'Bob', descriptor: [0, 1, 0, 0] });
    expect(index.nearest([0, 1, 0, 0], 3).map((c) => c.identity)).toEqual(['Bob', 'Ada']);
    expect(() => index.nearest([1, 2], 1)).toThrow(RangeError);
    expect(index.nearest([0, 0, 0, 0], 0)).toEqual([]);
  });
});

describe('GalleryIndexKernel, templates', () => {
  /** The reference: each identity's mean face, and the k nearest of those. */
  function bruteTemplates(faces: IndexedFace[], q: Float32Array, k: number): Candidate[] {
    const sums = new Map<string, { sum: Float64Array; n: number }>();
    for (const f of faces) {
      const e = sums.get(f.identity) ?? { sum: new Float64Array(q.length), n: 0 };
      for (let i = 0; i < q.length; i++) e.sum[i] += f.descriptor[i]!;
      e.n += 1;
      sums.set(f.identity, e);
    }
    return [...sums]
      .map(([identity, { sum, n }]) => ({ identity, distance: Math.sqrt(q.reduce((s, v, i) => s + (v - sum[i]! / n) ** 2, 0)) }))
      .sort((a, b) => a.distance - b.distance || a.identity.localeCompare(b.identity))
      .slice(0, k);
  }

  it('scores each identity by the mean of its faces, kept current through adds and removals', () => {
    const all = syntheticFaces(1_200, 150, 21);
    const index = new GalleryIndexKernel(128, 8);
    let live = new Map<string, IndexedFace>();
    const r = rng(4);
    for (const f of all) {
      index.add(f);
      live.set(f.id, f);
      if (r() < 0.25) {
        const victim = [...live.keys()][Math.floor(r() * live.size)]!;
        index.remove(victim);
        live.delete(victim);
      }
    }
    index.removeIdentity('id-3');
    live = new Map([...live].filter(([, f]) => f.identity !== 'id-3'));
    for (let n = 0; n < 20; n++) {
      const q = Float32Array.from(all[Math.floor(r() * all.length)]!.descriptor, (v) => v + (r() - 0.5) * 0.04);
      expectSame(index.nearestTemplates(q, 4), bruteTemplates([...live.values()], q, 4));
    }
    // One face: the template is the face.
    const one = new GalleryIndexKernel(4);
    one.add({ id: 'a', identity: 'Ada', descriptor: [1, 0, 0, 0] });
    expect(one.nearestTemplates([1, 0, 0, 0], 2)).toEqual([{ identity: 'Ada', distance: 0 }]);
    one.add({ id: 'b', identity: 'Ada', descriptor: [0, 1, 0, 0] });
    expect(one.nearestTemplates([0.5, 0.5, 0, 0], 2)).toEqual([{ identity: 'Ada', distance: 0 }]);
    expect(() => one.nearestTemplates([1], 1)).toThrow(RangeError);
  });

  it('keeps each identity\'s faces and template exact through removals, identity removals, re-adds and compactions', () => {
    const all = syntheticFaces(2_000, 120, 5);
    const index = new GalleryIndexKernel(128, 4);
    // Templates from the start, so every change below updates them in place.
    index.nearestTemplates(all[0]!.descriptor, 1);
    const live = new Map<string, IndexedFace>();
    const r = rng(9);
    let removedIdentities = 0;
    for (const f of all) {
      index.add(f);
      live.set(f.id, f);
      const roll = r();
      if (roll < 0.3) {
        const victim = [...live.keys()][Math.floor(r() * live.size)]!;
        expect(index.remove(victim)).toBe(true);
        live.delete(victim);
      } else if (roll < 0.32) {
        const who = `id-${Math.floor(r() * 120)}`;
        const mine = [...live.values()].filter((g) => g.identity === who);
        expect(index.removeIdentity(who)).toBe(mine.length);
        for (const g of mine) live.delete(g.id);
        removedIdentities += 1;
      } else if (roll < 0.35 && live.size > 0) {
        // The same id again, now of another identity: it moves.
        const moved = [...live.values()][Math.floor(r() * live.size)]!;
        const again = { ...moved, identity: `id-${Math.floor(r() * 120)}` };
        index.add(again);
        live.delete(moved.id);
        live.set(again.id, again);
      }
    }
    expect(removedIdentities).toBeGreaterThan(10);
    expect(index.size).toBe(live.size);
    const names = new Set([...live.values()].map((f) => f.identity));
    expect(index.identities).toBe(names.size);
    // Each template is the Float32 mean of the identity's live faces, summed in the order they were added.
    const order = [...live.values()];
    const q = Float32Array.from(all[7]!.descriptor);
    const got = index.templateDistances(q, [...names, 'never']);
    expect(got.at(-1)).toBeNaN();
    [...names].forEach((name, i) => {
      const mine = order.filter((f) => f.identity === name);
      const mean = new Float32Array(128);
      for (let j = 0; j < 128; j++) {
        let s = 0;
        for (const f of mine) s += Math.fround(f.descriptor[j]!);
        mean[j] = s / mine.length;
      }
      expect(got[i]).toBe(Math.sqrt(squaredDistance(q, 0, mean, 0, 128)));
    });
    // Every identity with a face is a template candidate, and only those.
    expect(new Set(index.nearestTemplates(q, 1_000).map((c) => c.identity))).toEqual(names);
  });

  it('is the matcher\'s scoring when asked, with the template rule as its default', () => {
    // Ada's two faces straddle the probe; Bob's one face is nearer than either of Ada's.
    const gallery = createGalleryIndex([
      { identity: 'Ada', descriptor: Float32Array.from([0.5, 0, 0, 0]) },
      { identity: 'Ada', descriptor: Float32Array.from([-0.5, 0, 0, 0]) },
      { identity: 'Bob', descriptor: Float32Array.from([0, 0.4, 0, 0]) },
    ]);
    const q = new Float32Array(4);
    expect(gallery.match(q, { margin: 0, templateWeight: 0 }).candidates.map((c) => c.identity)).toEqual(['Bob', 'Ada']);
    // The default rule blends each identity's nearest face with its template: Ada 0.25 x 0.5 + 0.75 x 0 = 0.125, Bob 0.4.
    expect(gallery.match(q, { margin: 0 }).candidates).toEqual([{ identity: 'Ada', distance: expect.closeTo(0.125, 6) }, { identity: 'Bob', distance: expect.closeTo(0.4, 6) }]);
    const byTemplate = gallery.match(q, { scoring: 'template' });
    expect(byTemplate.candidates).toEqual([{ identity: 'Ada', distance: 0 }, { identity: 'Bob', distance: expect.closeTo(0.4, 6) }]);
    expect(byTemplate.match?.identity).toBe('Ada');
    // 0.46 is beyond TEMPLATE_RULE's threshold (0.4475): template scoring keeps its own rule.
    const far = Float32Array.from([0, 0, 0.46, 0]);
    expect(gallery.match(far, { scoring: 'template', margin: 0 }).reason).toBe('no-close-identity');
  });
});
