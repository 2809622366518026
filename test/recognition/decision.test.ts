import { describe, expect, it } from 'vitest';
import { configToEnv, loadConfig } from '../../src/config.js';
import { BLEND_CANDIDATES, checkRule, cohortScore, COHORT_SIZE, decide, DEFAULT_RULE, DEFAULT_VERIFY_THRESHOLD, identityDistance, RULE_CANDIDATES, ruleCandidates } from '../../src/recognition/decision.js';
import { createGalleryIndex, recognizeFaces } from '../../src/recognition/matcher.js';

const rule = { threshold: 0.5, margin: 0.06 };

describe('decide', () => {
  it('names a clear nearest identity', () => {
    expect(decide([{ identity: 'amy', distance: 0.3 }, { identity: 'raj', distance: 0.7 }], rule)).toEqual({ match: { identity: 'amy', distance: 0.3 }, reason: null });
  });

  it('calls two identities within the margin ambiguous, even when both are close', () => {
    expect(decide([{ identity: 'amy', distance: 0.3 }, { identity: 'raj', distance: 0.33 }], rule)).toEqual({ match: null, reason: 'ambiguous' });
  });

  it('says no-close-identity for a far nearest, however clear of the second', () => {
    expect(decide([{ identity: 'amy', distance: 0.51 }, { identity: 'raj', distance: 0.9 }], rule)).toEqual({ match: null, reason: 'no-close-identity' });
  });

  it('takes the edges as inclusive: distance equal to the threshold and gap equal to the margin both match', () => {
    const r = { threshold: 0.5, margin: 0.125 };
    expect(decide([{ identity: 'amy', distance: 0.5 }, { identity: 'raj', distance: 0.625 }], r).match?.identity).toBe('amy');
    expect(decide([{ identity: 'amy', distance: 0.5 }, { identity: 'raj', distance: 0.624 }], r).reason).toBe('ambiguous');
  });

  it('with one identity applies only the threshold; with none, nobody is close', () => {
    expect(decide([{ identity: 'amy', distance: 0.2 }], rule).match?.identity).toBe('amy');
    expect(decide([], rule)).toEqual({ match: null, reason: 'no-close-identity' });
  });

  it('margin 0 is the threshold alone', () => {
    expect(decide([{ identity: 'amy', distance: 0.3 }, { identity: 'raj', distance: 0.3 }], { threshold: 0.5, margin: 0 }).match?.identity).toBe('amy');
  });

  it('NaN distances never match', () => {
    expect(decide([{ identity: 'amy', distance: Number.NaN }], rule).reason).toBe('no-close-identity');
  });

  it('cohort score: how many standard deviations the next identities lie above the nearest', () => {
    // Next distances 0.6 and 0.7: mean 0.65, sample standard deviation 0.0707.
    expect(cohortScore([0.5, 0.6, 0.7])).toBeCloseTo(0.15 / Math.SQRT1_2 / 0.1, 6);
    expect(cohortScore([0.5, 0.6])).toBeNull();
    // Only the first COHORT_SIZE after the nearest count.
    const far = [0.3, ...Array.from({ length: COHORT_SIZE }, (_, i) => 0.6 + 0.01 * i)];
    expect(cohortScore([...far, 0.0, 9])).toBeCloseTo(cohortScore(far)!, 9);
    expect(ruleCandidates({ cohort: 2 })).toBe(COHORT_SIZE + 1);
    expect(ruleCandidates({})).toBe(RULE_CANDIDATES);
  });

  it('calls a close, clear nearest ambiguous when it does not stand out from the cohort', () => {
    const r = { threshold: 0.5, margin: 0.06, cohort: 3 };
    // Clear of the second by 0.1, but the cohort spreads widely: z = (0.6 - 0.4) / 0.1 = 2 < 3.
    const spread = [0.4, 0.5, 0.6, 0.7];
    expect(decide(spread.map((distance, i) => ({ identity: `p${i}`, distance })), r)).toEqual({ match: null, reason: 'ambiguous' });
    // The same nearest against a tight cohort: z = (0.7 - 0.4) / 0.01 = 30.
    const tight = [0.4, 0.69, 0.7, 0.71];
    expect(decide(tight.map((distance, i) => ({ identity: `p${i}`, distance })), r).match?.identity).toBe('p0');
    // Cohort 0 is off; with too few identities for a spread only threshold and margin apply.
    expect(decide(spread.map((distance, i) => ({ identity: `p${i}`, distance })), { ...r, cohort: 0 }).match?.identity).toBe('p0');
    expect(decide([{ identity: 'amy', distance: 0.4 }, { identity: 'raj', distance: 0.5 }], r).match?.identity).toBe('amy');
  });

  it('margin weight: a nearest clear of the second may lie farther, by that weight of the gap', () => {
    const r = { threshold: 0.4, margin: 0.07, marginWeight: 0.75 };
    // 0.45 - 0.75 x 0.1 = 0.375 <= 0.4: named, though 0.45 is past the threshold.
    expect(decide([{ identity: 'amy', distance: 0.45 }, { identity: 'raj', distance: 0.55 }], r).match?.identity).toBe('amy');
    // 0.45 - 0.75 x 0.06 = 0.405 > 0.4: not close; with weight 0 the distance alone decides.
    expect(decide([{ identity: 'amy', distance: 0.45 }, { identity: 'raj', distance: 0.51 }], r).reason).toBe('no-close-identity');
    expect(decide([{ identity: 'amy', distance: 0.45 }, { identity: 'raj', distance: 0.55 }], { ...r, marginWeight: 0 }).reason).toBe('no-close-identity');
    // Close by the score but within the margin of the second: ambiguous. One identity: the distance alone.
    expect(decide([{ identity: 'amy', distance: 0.3 }, { identity: 'raj', distance: 0.36 }], r).reason).toBe('ambiguous');
    expect(decide([{ identity: 'amy', distance: 0.41 }], r).reason).toBe('no-close-identity');
  });

  it('template weight blends an identity\'s nearest face with its template, and needs the identities to re-rank', () => {
    expect(identityDistance(0.5, 0.3, 0.75)).toBeCloseTo(0.35, 9);
    expect(identityDistance(0.5, 0.3, 0)).toBe(0.5);
    // One face: template and face are the same, so the blend is the face's distance.
    expect(identityDistance(0.42, 0.42, 0.75)).toBeCloseTo(0.42, 9);
    expect(ruleCandidates({ templateWeight: 0.75 })).toBe(BLEND_CANDIDATES);
    expect(ruleCandidates(DEFAULT_RULE)).toBe(DEFAULT_RULE.templateWeight ? BLEND_CANDIDATES : RULE_CANDIDATES);
  });

  it('checkRule rejects out-of-range numbers', () => {
    expect(() => checkRule({ threshold: 0, margin: 0 })).toThrow(RangeError);
    expect(() => checkRule({ threshold: 0.5, margin: -0.1 })).toThrow(RangeError);
    expect(() => checkRule({ threshold: 0.5, margin: 0.1, cohort: -1 })).toThrow(RangeError);
    expect(() => checkRule({ threshold: 0.5, margin: 0.1, templateWeight: 1.5 })).toThrow(RangeError);
    expect(() => checkRule({ threshold: 0.5, margin: 0.1, marginWeight: -1 })).toThrow(RangeError);
    expect(checkRule(DEFAULT_RULE)).toBe(DEFAULT_RULE);
  });
});

describe('the gallery index applies the rule', () => {
  const d = (x: number, y = 0) => Float32Array.from({ length: 4 }, (_, i) => (i === 0 ? x : i === 1 ? y : 0));
  const index = createGalleryIndex([
    { identity: 'amy', descriptor: d(0) },
    { identity: 'raj', descriptor: d(0.04) },
    { identity: 'penny', descriptor: d(1) },
  ]);

  it('looks at the second identity for the margin even when topK is 1', () => {
    const r = index.match(d(0.01), { topK: 1, threshold: 0.5, margin: 0.06 });
    expect(r).toMatchObject({ match: null, reason: 'ambiguous' });
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0].identity).toBe('amy');
  });

  it('names the nearest when the second is clear, and gives no reason', () => {
    const r = index.match(d(0.98), { topK: 1, threshold: 0.5, margin: 0.06 });
    expect(r).toMatchObject({ match: { identity: 'penny' }, reason: null });
  });

  it('recognizeFaces carries the reason on unknown faces only', () => {
    const faces = [d(0.01), d(0.98), d(0.5, 5)].map((descriptor, i) => ({ box: { x: 0, y: 0, width: 10 - i, height: 10 }, score: 1, descriptor }));
    const out = recognizeFaces({ width: 100, height: 100, faces }, index, { threshold: 0.5, margin: 0.06 });
    expect(out.faces.map((f) => f.reason)).toEqual(['ambiguous', undefined, 'no-close-identity']);
    expect(out.faces[2].candidates.length).toBe(3);
  });

  it('applies a cohort score when asked: a nearest that does not stand out from the rest is ambiguous', () => {
    // Distances 0.3, 0.4, 0.5, 0.7, 0.9 from the probe: clear of the second by 0.1, cohort score 1.47.
    const spread = createGalleryIndex([0.3, 0.4, 0.5, 0.7, 0.9].map((x, i) => ({ identity: `p${i}`, descriptor: d(x) })));
    expect(spread.match(d(0), { threshold: 0.5, margin: 0.05, cohort: 3 })).toMatchObject({ match: null, reason: 'ambiguous' });
    expect(spread.match(d(0), { threshold: 0.5, margin: 0.05, cohort: 1 }).match?.identity).toBe('p0');
    expect(spread.match(d(0), { threshold: 0.5, margin: 0.05 }).match?.identity).toBe('p0');
  });

  it('re-ranks identities on the blend of nearest face and template: a stranger near one face of a person is farther from the person', () => {
    // amy's two faces lie 0.3 and 1.1 from the probe (template 0.7 away); raj's one face 0.4.
    const two = createGalleryIndex([
      { identity: 'amy', descriptor: d(0.3) },
      { identity: 'amy', descriptor: d(1.1) },
      { identity: 'raj', descriptor: d(0, 0.4) },
    ]);
    const rule = { threshold: 0.5, margin: 0.06, marginWeight: 0 };
    expect(two.match(d(0), { ...rule, templateWeight: 0 }).match?.identity).toBe('amy');
    // Blended: amy 0.25 x 0.3 + 0.75 x 0.7 = 0.6, raj 0.4 (one face).
    const r = two.match(d(0), { ...rule, templateWeight: 0.75 });
    expect(r.candidates).toEqual([{ identity: 'raj', distance: expect.closeTo(0.4, 6) }, { identity: 'amy', distance: expect.closeTo(0.6, 6) }]);
    expect(r.match?.identity).toBe('raj');
  });

  it('an empty gallery answers no-close-identity', () => {
    expect(createGalleryIndex([]).match(d(0))).toEqual({ match: null, reason: 'no-close-identity', candidates: [] });
  });
});

describe('the rule in the configuration', () => {
  it('defaults to the documented rule and verify threshold', () => {
    const c = loadConfig({}, {});
    expect(c.recognition).toMatchObject({ threshold: DEFAULT_RULE.threshold, margin: DEFAULT_RULE.margin, verifyThreshold: DEFAULT_VERIFY_THRESHOLD });
  });

  it('reads FACEFLEET_MARGIN and FACEFLEET_VERIFY_THRESHOLD, flags first, and hands them to workers', () => {
    const c = loadConfig({ margin: 0.1 }, { FACEFLEET_MARGIN: '0', FACEFLEET_THRESHOLD: '0.45', FACEFLEET_VERIFY_THRESHOLD: '0.55' });
    expect(c.recognition).toMatchObject({ threshold: 0.45, margin: 0.1, verifyThreshold: 0.55 });
    expect(loadConfig({}, configToEnv(c)).recognition).toMatchObject({ threshold: 0.45, margin: 0.1, verifyThreshold: 0.55 });
  });

  it('refuses a margin or verify threshold out of range', () => {
    expect(() => loadConfig({}, { FACEFLEET_MARGIN: '-1' })).toThrow(/margin/);
    expect(() => loadConfig({}, { FACEFLEET_VERIFY_THRESHOLD: '0' })).toThrow(/verify threshold/);
  });
});
