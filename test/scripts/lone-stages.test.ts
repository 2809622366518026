/** bench:load's lone-user stages, read from a job's history. */
import { describe, expect, it } from 'vitest';
import { loneStages, summariseStages } from '../../scripts/lib/lone-stages.js';

const t0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(t0 + ms).toISOString();

describe('lone-user stages', () => {
  it('splits a request at queued, processing and done', () => {
    const history = [
      { at: iso(5), to: 'uploaded' },
      { at: iso(6), to: 'queued' },
      { at: iso(9), to: 'processing' },
      { at: iso(49), to: 'done' },
    ];
    expect(loneStages(history, t0, t0 + 55)).toEqual({ accept: 6, dispatch: 3, attempt: 40, answer: 6, overhead: 15, total: 55 });
  });

  it('gives null for a history without the ordinary path', () => {
    expect(loneStages([{ at: iso(1), to: 'queued' }, { at: iso(2), to: 'dead-lettered' }], t0, t0 + 3)).toBeNull();
  });

  it('reports p50 and p95 per stage', () => {
    const one = (total: number) => ({ accept: 1, dispatch: 1, attempt: total - 3, answer: 1, overhead: 3, total });
    const s = summariseStages([10, 20, 30, 40].map(one));
    expect(s.total).toEqual({ p50: 20, p95: 40 });
    expect(s.overhead).toEqual({ p50: 3, p95: 3 });
  });
});
