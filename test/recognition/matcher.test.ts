import { describe, expect, it } from 'vitest';
import { createGalleryIndex, euclidean, recognizeFaces } from '../../src/recognition/matcher.js';
import type { AnalyzedImage, GalleryFace } from '../../src/recognition/types.js';

/** A descriptor that is `distance` away from the origin along axis `axis`. */
function at(axis: number, distance: number): Float32Array {
  const d = new Float32Array(128);
  d[axis] = distance;
  return d;
}

const origin = new Float32Array(128);

describe('euclidean', () => {
  it('is the L2 distance and refuses mismatched lengths', () => {
    expect(euclidean(at(0, 3), at(1, 4))).toBeCloseTo(5, 6);
    expect(euclidean(origin, origin)).toBe(0);
    expect(() => euclidean(new Float32Array(3), new Float32Array(4))).toThrow(RangeError);
  });
});

describe('createGalleryIndex', () => {
  const gallery: GalleryFace[] = [
    { identity: 'ann', descriptor: at(0, 0.5) },
    { identity: 'ann', descriptor: at(1, 0.2) }, // ann's nearest face
    { identity: 'bob', descriptor: at(2, 0.3) },
    { identity: 'cid', descriptor: at(3, 0.9) },
    { identity: 'dee', descriptor: at(4, 0.4) },
  ];
  const index = createGalleryIndex(gallery);

  it('ranks identities by their nearest face, nearest first, cut to topK', () => {
    const r = index.match(origin, { topK: 3, threshold: 0.6, templateWeight: 0 });
    expect(index.size).toBe(5);
    expect(r.candidates.map((c) => c.identity)).toEqual(['ann', 'bob', 'dee']);
    expect(r.candidates[0].distance).toBeCloseTo(0.2, 6);
    expect(r.match).toEqual(r.candidates[0]);
    expect(index.match(origin, { topK: 10, threshold: 0.6, templateWeight: 0 }).candidates.map((c) => c.identity)).toEqual(['ann', 'bob', 'dee', 'cid']);
  });

  it('by default blends each identity\'s nearest face with its template', () => {
    // ann's template (0.25, 0.1) lies 0.2693 from the origin: 0.25 x 0.2 + 0.75 x 0.2693 = 0.2520.
    const r = index.match(origin, { topK: 2, threshold: 0.6 });
    expect(r.candidates.map((c) => c.identity)).toEqual(['ann', 'bob']);
    expect(r.candidates[0].distance).toBeCloseTo(0.05 + 0.75 * Math.hypot(0.25, 0.1), 6);
    expect(r.candidates[1].distance).toBeCloseTo(0.3, 6);
  });

  it('matches at exactly the threshold and not beyond it', () => {
    const one = createGalleryIndex([{ identity: 'ann', descriptor: at(0, 0.5) }]);
    expect(one.match(origin, { threshold: 0.5 }).match?.identity).toBe('ann');
    const beyond = one.match(origin, { threshold: 0.4999 });
    expect(beyond.match).toBeNull();
    // Unknown still lists the nearest strangers as candidates.
    expect(beyond.candidates).toEqual([{ identity: 'ann', distance: 0.5 }]);
  });

  it('uses topK 3 and the default rule by default', () => {
    const r = index.match(at(5, 0.7));
    expect(r.candidates).toHaveLength(3);
    // Every identity is farther than the default threshold from this probe.
    expect(r.match).toBeNull();
  });

  it('answers unknown with no candidates on an empty gallery', () => {
    const empty = createGalleryIndex([]);
    expect(empty.size).toBe(0);
    expect(empty.match(origin)).toEqual({ match: null, reason: 'no-close-identity', candidates: [] });
  });

  it('refuses descriptors of the wrong length', () => {
    expect(() => index.match(new Float32Array(64))).toThrow(RangeError);
    expect(() => createGalleryIndex([{ identity: 'a', descriptor: new Float32Array(128) }, { identity: 'b', descriptor: new Float32Array(5) }])).toThrow(RangeError);
  });
});

describe('recognizeFaces', () => {
  it('returns faces largest first, with matches and no descriptors', () => {
    const analyzed: AnalyzedImage = {
      width: 640,
      height: 480,
      faces: [
        { box: { x: 0, y: 0, width: 20, height: 20 }, score: 0.9, descriptor: at(9, 1.5) },
        { box: { x: 100, y: 100, width: 80, height: 90 }, score: 0.8, descriptor: at(0, 0.45) },
      ],
    };
    const index = createGalleryIndex([{ identity: 'ann', descriptor: at(0, 0.5) }]);
    const r = recognizeFaces(analyzed, index, { topK: 1, threshold: 0.6 });
    expect(r.width).toBe(640);
    expect(r.height).toBe(480);
    expect(r.faces.map((f) => f.box.width)).toEqual([80, 20]);
    expect(r.faces[0].match?.identity).toBe('ann');
    expect(r.faces[1].match).toBeNull();
    expect(r.faces[1].candidates).toHaveLength(1);
    for (const f of r.faces) expect(f).not.toHaveProperty('descriptor');
  });
});
