import { describe, expect, it } from 'vitest';
import { decide, DEFAULT_RULE } from '../../src/recognition/decision.js';
import { autoGraph, buildGalleryIndex, GalleryIndexKernel, type GraphKind, type IndexedFace } from '../../src/recognition/gallery-index.js';
import { seededRandom as rng } from '../../src/random.js';

/**
 * Faces whose identities spread over a few directions, as real descriptors do (a face space of
 * low intrinsic dimension): a centre per identity from 12 basis vectors, faces about it.
 */
function clusteredFaces(faces: number, identities: number, seed = 1): { faces: IndexedFace[]; centres: Float32Array[]; near: (c: Float32Array, spread: number) => Float32Array } {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const basis = Array.from({ length: 12 }, () => Float32Array.from({ length: 128 }, () => gauss() * 0.07));
  const centres = Array.from({ length: identities }, () => {
    const c = new Float32Array(128);
    for (const b of basis) {
      const w = gauss();
      for (let i = 0; i < 128; i++) c[i] += w * b[i]!;
    }
    return c;
  });
  const near = (c: Float32Array, spread: number) => Float32Array.from(c, (v) => v + gauss() * spread);
  return { faces: Array.from({ length: faces }, (_, i) => ({ id: `f${i}`, identity: `id-${i % identities}`, descriptor: near(centres[i % identities]!, 0.025) })), centres, near };
}

// usearch is an optional dependency: where it loads (it does from `npm ci` on linux-x64), both graphs are tested.
const kinds: GraphKind[] = autoGraph().kind === 'usearch' ? ['typescript', 'usearch'] : ['typescript'];

describe.each(kinds)('GalleryIndexKernel, %s graph', (kind) => {
  const GRAPH = { graphAbove: 500, graph: kind };
  const { faces, centres, near } = clusteredFaces(3_000, 600);
  const index = buildGalleryIndex(faces, 128, GRAPH);
  const r = rng(5);
  const probes = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? near(centres[Math.floor(r() * centres.length)]!, 0.025) : near(clusteredFaces(1, 1, 100 + i).centres[0]!, 0.025)));

  it('agrees with exact search on rank-1 and on the 1:N decision, for a fraction of the distances', () => {
    expect(index.approximate).toBe(true);
    expect(index.graphKind).toBe(kind);
    let rank1 = 0;
    let decisions = 0;
    let recalled = 0;
    const before = index.evaluations;
    for (const q of probes) {
      const got = index.nearest(q, 5);
      const want = index.nearestExact(q, 5);
      expect(new Set(got.map((c) => c.identity)).size).toBe(5);
      if (got[0]!.identity === want[0]!.identity) rank1 += 1;
      const a = decide(got, DEFAULT_RULE), b = decide(want, DEFAULT_RULE);
      if (a.reason === b.reason && a.match?.identity === b.match?.identity) decisions += 1;
      const mine = new Set(got.map((c) => c.identity));
      recalled += want.filter((c) => mine.has(c.identity)).length;
      // A found identity's distance is exact: never nearer than exact search says.
      for (const c of got) expect(c.distance).toBeGreaterThanOrEqual(want.find((w) => w.identity === c.identity)?.distance ?? 0);
    }
    expect(rank1 / probes.length).toBeGreaterThanOrEqual(0.99);
    expect(decisions / probes.length).toBeGreaterThanOrEqual(0.99);
    expect(recalled / (probes.length * 5)).toBeGreaterThanOrEqual(0.95);
    // The point of the graph: far fewer distances than a scan of every face (counted by the TypeScript graph).
    if (kind === 'typescript') expect((index.evaluations - before) / probes.length).toBeLessThan(faces.length / 3);
  });

  it('finds faces added after the graph was built, even one far from all others', () => {
    const added = { id: 'late', identity: 'Late', descriptor: near(centres[3]!, 0.01) };
    index.add(added);
    expect(index.nearest(added.descriptor, 2)[0]).toEqual({ identity: 'Late', distance: 0 });
    const far = { id: 'far', identity: 'Far', descriptor: new Float32Array(128).fill(0.9) };
    index.add(far);
    expect(index.nearest(far.descriptor, 1)[0]).toEqual({ identity: 'Far', distance: 0 });
    expect(index.remove('far')).toBe(true);
    expect(index.nearest(far.descriptor, 3).map((c) => c.identity)).not.toContain('Far');
  });

  it('never returns removed faces, and agrees with exact search after compaction', () => {
    const small = clusteredFaces(1_500, 300, 9);
    const live = new GalleryIndexKernel(128, 16, GRAPH);
    for (const f of small.faces) live.add(f);
    // A kernel fed face by face answers exactly until its graph is built.
    expect(live.needsGraph).toBe(true);
    expect(live.approximate).toBe(false);
    // Slices: a zero budget still inserts 32 faces a call, and the answers stay exact meanwhile.
    expect(live.buildGraph(0)).toBe(false);
    const q0 = small.near(small.centres[1]!, 0.01);
    expect(live.nearest(q0, 3)).toEqual(live.nearestExact(q0, 3));
    let slices = 1;
    while (!live.buildGraph(0)) slices += 1;
    expect(slices).toBeGreaterThan(10);
    expect(live.approximate).toBe(true);
    expect(live.removeIdentity('id-7')).toBe(5);
    const q = small.near(small.centres[7]!, 0.01);
    expect(live.nearest(q, 5).map((c) => c.identity)).not.toContain('id-7');
    // Tombstones past half the slots compact the rows (rebuilding the graph at 1,500 - 755 faces);
    // once the faces left are below graphAbove, queries are exact again.
    for (let i = 0; i < 1_200; i++) live.remove(`f${i}`);
    expect(live.size).toBe(300 - small.faces.slice(1_200).filter((f) => f.identity === 'id-7').length);
    expect(live.approximate).toBe(false);
    for (let i = 0; i < 20; i++) {
      const p = small.near(small.centres[(i * 37) % 300]!, 0.02);
      expect(live.nearest(p, 3)).toEqual(live.nearestExact(p, 3));
    }
  });

  it('still gives k distinct identities when one identity crowds the beam', () => {
    const crowd = new GalleryIndexKernel(128, 16, { graphAbove: 100, efSearch: 16, graph: kind });
    const { centres: cs, near: n2 } = clusteredFaces(0, 50, 13);
    for (let i = 0; i < 400; i++) crowd.add({ id: `b${i}`, identity: 'Crowd', descriptor: n2(cs[0]!, 0.02) });
    cs.slice(1).forEach((c, i) => crowd.add({ id: `o${i}`, identity: `other-${i}`, descriptor: n2(c, 0.02) }));
    const q = n2(cs[0]!, 0.01);
    const got = crowd.nearest(q, 4);
    expect(got).toHaveLength(4);
    expect(got).toEqual(crowd.nearestExact(q, 4));
  });
});

describe('graph choice', () => {
  it('falls back to the TypeScript graph, saying why, when usearch does not load', () => {
    const missing = autoGraph('usearch-not-installed');
    expect(missing.kind).toBe('typescript');
    expect(missing.reason).toMatch(/usearch does not load \(.*usearch-not-installed/);
  });
});

describe.runIf(kinds.includes('usearch'))('GalleryIndexKernel, usearch distances', () => {
  it('computes exact distances only where they can matter, with the same answer as computing them all', () => {
    const { faces, centres, near } = clusteredFaces(1_500, 300, 3);
    // A beam of most of the gallery: the graph then finds the true nearest, so any face the
    // half-precision bound wrongly skipped would show as a difference from exact search.
    const index = buildGalleryIndex(faces, 128, { graphAbove: 500, graph: 'usearch', efSearch: 1024 });
    const r = rng(9);
    const probes = Array.from({ length: 100 }, (_, i) => near(i % 2 === 0 ? centres[Math.floor(r() * centres.length)]! : clusteredFaces(1, 1, 300 + i).centres[0]!, 0.025));
    const before = index.evaluations;
    for (const q of probes) expect(index.nearest(q, 5)).toEqual(index.nearestExact(q, 5));
    // Far fewer exact distances than the 1,024 nodes each search returns.
    expect((index.evaluations - before) / probes.length).toBeLessThan(300);
  });

  it('tells apart faces that half precision cannot: twins nearer than its rounding go to exact distances', () => {
    const { faces, near } = clusteredFaces(1_000, 500, 4);
    const r = rng(11);
    // Each twin is a face moved by less than half precision resolves, under another name.
    const twins = faces.slice(0, 400).map((f, i) => ({ id: `t${i}`, identity: `twin-${i}`, descriptor: Float32Array.from(f.descriptor, (v) => v + (r() - 0.5) * 4e-5) }));
    const index = buildGalleryIndex([...faces, ...twins], 128, { graphAbove: 500, graph: 'usearch', efSearch: 1024 });
    let differ = 0;
    for (let i = 0; i < 400; i++) {
      const q = near(Float32Array.from(faces[i]!.descriptor), 0.01);
      const want = index.nearestExact(q, 1);
      expect(index.nearest(q, 1)).toEqual(want);
      if (want[0]!.identity.startsWith('twin')) differ += 1;
    }
    // Both sides of each pair win some: the order is decided below half precision.
    expect(differ).toBeGreaterThan(50);
    expect(differ).toBeLessThan(350);
  });
});
