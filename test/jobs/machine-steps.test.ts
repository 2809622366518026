import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { initialJobStep, jobStep } from '../../src/jobs/machine-steps.js';
import { persistJobSnapshot } from '../../src/jobs/snapshot.js';
import { jobMachine, type JobEvent } from '../../src/machines/job.js';
import { aResult, at } from '../helpers/jobs.js';

const plain = (actions: Array<{ type: string; params: unknown }>) => actions.map((a) => ({ type: a.type, params: a.params }));

/** A life with every kind of step: refused events, guards both ways, retries, a replay. */
const events: JobEvent[] = [
  { type: 'START', at: at(1), workerId: 'w1', leaseSeconds: 30 }, // refused in uploaded
  { type: 'ENQUEUE', at: at(2) },
  { type: 'SWEEP', at: at(3) },
  { type: 'START', at: at(4), workerId: 'w1', leaseSeconds: 30, receipt: 'r1' },
  { type: 'HEARTBEAT', at: at(5), workerId: 'w2', leaseSeconds: 30 }, // not the holder
  { type: 'HEARTBEAT', at: at(6), workerId: 'w1', leaseSeconds: 30 },
  { type: 'START', at: at(7), workerId: 'w2', leaseSeconds: 30 }, // lease still live
  { type: 'FAIL', at: at(8), workerId: 'w1', error: { code: 'x', message: 'm', retryable: true }, receipt: 'r1' },
  { type: 'START', at: at(9), workerId: 'w2', leaseSeconds: 30 },
  { type: 'FAIL', at: at(10), workerId: 'w2', error: { code: 'y', message: 'm', retryable: false } },
  { type: 'REPLAY', at: at(11), by: 'op' },
  { type: 'ABANDON', at: at(12), reason: 'old', sentAt: at(1) }, // predates the replay
  { type: 'START', at: at(13), workerId: 'w3', leaseSeconds: 30 },
  { type: 'SUCCEED', at: at(14), workerId: 'w3', result: aResult(), receipt: 'r3' },
  { type: 'ENQUEUE', at: at(15) }, // done is final
];

describe('job machine steps', () => {
  it('compute what xstate initialTransition() and transition() compute, step by step', () => {
    const input = { id: 'j', maxAttempts: 2, at: at(0) };
    const [ours, ourActions] = initialJobStep(input);
    const [theirs, theirActions] = initialTransition(jobMachine, input);
    expect(persistJobSnapshot(ours)).toEqual(persistJobSnapshot(theirs));
    expect(plain(ourActions)).toEqual(plain(theirActions));

    let snapshot = ours;
    let changes = 0;
    for (const event of events) {
      const [next, actions] = jobStep(snapshot, event);
      const [expected, expectedActions] = transition(jobMachine, snapshot, event);
      expect(persistJobSnapshot(next), event.type).toEqual(persistJobSnapshot(expected));
      expect(plain(actions), event.type).toEqual(plain(expectedActions));
      // Unchanged means the very same object, as transition() returns it.
      expect(next === snapshot, event.type).toBe(expected === snapshot);
      if (next !== snapshot) changes += 1;
      snapshot = next;
    }
    expect(snapshot.value).toBe('done');
    expect(changes).toBe(10);
  });

  it('keeps each call its own actions', () => {
    const [a] = initialJobStep({ id: 'a', maxAttempts: 1, at: at(0) });
    const [, first] = jobStep(a, { type: 'ENQUEUE', at: at(1) });
    const [, second] = jobStep(a, { type: 'SWEEP', at: at(1) });
    expect(plain(first)).toEqual([{ type: 'enqueue', params: { jobId: 'a' } }]);
    expect(plain(second)).toEqual([{ type: 'enqueue', params: { jobId: 'a' } }]);
  });
});
