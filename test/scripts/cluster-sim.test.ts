/** bench:clusters' stream simulation: when recluster runs (as the service asks for it, or every N faces) and what it merges. */
import { describe, expect, it } from 'vitest';
import { bcubed, simulate, type SimFace } from '../../scripts/lib/cluster-sim.js';

/** A face at `base` moved `shift` along axis `axis` (8 dimensions; people sit on their own axes, 10 apart). */
function face(person: string, base: number, axis: number, shift: number): SimFace {
  const descriptor = new Float32Array(8);
  descriptor[base] = 10;
  descriptor[axis] += shift;
  return { person, descriptor, box: { x: 0, y: 0, width: 100, height: 100 }, score: 0.9 };
}

/**
 * Two faces of one person 0.40 apart: beyond the join radius these tests use (0.36), so the
 * second starts a cluster, but within the merge rule's limit for two single faces (0.43), so it
 * asks for a recluster.
 */
const pair = (person: string, base: number): SimFace[] => [face(person, base, base, 0), face(person, base, (base + 1) % 8, 0.4)];
/** A face far from everyone: starts a cluster, asks for nothing. */
const alone = (k: number): SimFace => face(`solo${k}`, 7, 7, -3 * (k + 1));

const opts = { radius: 0.36, margin: 0 };

describe('bench:clusters simulation', () => {
  it('never reclusters with recluster 0, so a person split in two stays split', () => {
    const faces = [...pair('a', 0)];
    const run = simulate(faces, { ...opts, recluster: 0 });
    expect(run.reclusterRuns).toBe(0);
    expect(run.clusters).toBe(2);
  });

  it('reclusters at once when a face starts a cluster the merge rule would merge, and once at the end', () => {
    const faces = [...pair('a', 0), alone(0), alone(1)];
    const run = simulate(faces, { ...opts, recluster: 'service', faceGapSeconds: 1, bucketSeconds: 60 });
    expect(run.reclusterRuns).toBe(2);
    expect(run.labels[0]).toBe(run.labels[1]);
    expect(run.clusters).toBe(3);
    expect(bcubed(run.labels, faces.map((f) => f.person))).toEqual({ precision: 1, recall: 1 });
  });

  it('runs at most one recluster a bucket: a second request queues the next bucket\'s run, a third adds nothing', () => {
    // The stream starts 20 s into a minute (1,700,000,000,000 ms); faces 5 s apart. The first pair
    // asks at 25 s (runs), the second at 35 s (queued for the next minute), the third at 45 s (nothing more).
    const asking = [...pair('a', 0), ...pair('b', 2), ...pair('c', 4)];
    const before = simulate(asking, { ...opts, recluster: 'service', faceGapSeconds: 5, bucketSeconds: 60 });
    expect(before.reclusterRuns).toBe(2); // at 25 s, and at the end: the stream ends (at 45 s) before the next minute
    // Faces on to 60 s and past it: the queued run goes when the minute begins.
    const longer = [...asking, alone(0), alone(1), alone(2), alone(3)];
    const after = simulate(longer, { ...opts, recluster: 'service', faceGapSeconds: 5, bucketSeconds: 60 });
    expect(after.reclusterRuns).toBe(3);
    for (const k of [0, 2, 4]) expect(after.labels[k]).toBe(after.labels[k + 1]);
    // That minute's job now exists: a request in it (at 75 s) waits for the minute after, which the stream does not reach.
    const again = simulate([...longer, ...pair('d', 6)], { ...opts, recluster: 'service', faceGapSeconds: 5, bucketSeconds: 60 });
    expect(again.reclusterRuns).toBe(3);
  });

  it('reclusters every N faces and at the end with a number', () => {
    const faces = [...pair('a', 0), alone(0), alone(1), alone(2)];
    expect(simulate(faces, { ...opts, recluster: 2 }).reclusterRuns).toBe(3);
  });
});
