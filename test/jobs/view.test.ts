import { describe, expect, it } from 'vitest';
import { CorruptJobSnapshotError } from '../../src/jobs/errors.js';
import { jobContext, jobView } from '../../src/jobs/view.js';
import { TO_STATE, aResult, makeJobRecord, permanent } from '../helpers/jobs.js';
import { at } from '../helpers/builders.js';

describe('job views', () => {
  it('shows a done job with its result and history, and no error fields', () => {
    const record = makeJobRecord({ id: 'j', state: 'done', updatedAt: at(3) });
    const view = jobView(record);
    expect(view).toEqual({
      id: 'j',
      kind: 'recognize',
      state: 'done',
      createdAt: at(0),
      updatedAt: at(3),
      attempts: 1,
      maxAttempts: 3,
      result: aResult(),
      history: jobContext(record).history,
    });
    expect(view.history.map((h) => h.to)).toEqual(['uploaded', 'queued', 'processing', 'done']);
    expect('error' in view).toBe(false);
    expect('deadLetterReason' in view).toBe(false);
  });

  it('shows a dead letter with its error and reason', () => {
    const view = jobView(makeJobRecord({ state: 'dead-lettered' }));
    expect(view.state).toBe('dead-lettered');
    expect(view.error).toEqual(permanent());
    expect(view.deadLetterReason).toMatch(/permanent error/);
    expect(view.result).toBeUndefined();
  });

  it('gives the machine context without the machine-only budget field', () => {
    const context = jobContext(makeJobRecord({ id: 'j', commands: TO_STATE.processing }));
    expect(context).toEqual({
      id: 'j',
      attempts: 1,
      maxAttempts: 3,
      workerId: 'w1',
      leaseUntil: at(32),
      history: expect.any(Array),
    });
  });

  it('refuses a record whose snapshot is not a job snapshot', () => {
    const record = { ...makeJobRecord(), snapshot: { value: 'queued', context: { id: 'x' } } };
    expect(() => jobView(record)).toThrow(CorruptJobSnapshotError);
    expect(() => jobView({ ...record, snapshot: null })).toThrow(CorruptJobSnapshotError);
  });
});
