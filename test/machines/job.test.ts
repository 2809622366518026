import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { HISTORY_LIMIT, boundHistory, jobMachine } from '../../src/machines/job.js';
import type { JobCommand } from '../../src/jobs/runner.js';
import { TO_STATE, aResult, effectsOf, ev, permanent, retryable, snapshotAfter } from '../helpers/jobs.js';
import { at } from '../helpers/builders.js';
import type { HistoryEntry } from '../../src/jobs/types.js';

const start = (workerId = 'w1', leaseSeconds = 30, receipt?: string): JobCommand =>
  receipt === undefined ? { type: 'START', workerId, leaseSeconds } : { type: 'START', workerId, leaseSeconds, receipt };

/** Apply one command at `seconds` to the snapshot reached by `commands`. */
function step(commands: JobCommand[], command: JobCommand, seconds: number, maxAttempts = 3) {
  const before = snapshotAfter(commands, { maxAttempts });
  const [after, actions] = transition(jobMachine, before, ev(command, seconds));
  return { before, after, actions: effectsOf(actions), accepted: after !== before };
}

describe('job machine', () => {
  it('starts in uploaded with the creation entry, an empty attempt count and no actions', () => {
    const [snapshot, actions] = initialTransition(jobMachine, { id: 'j', maxAttempts: 4, at: at(0) });
    expect(snapshot.value).toBe('uploaded');
    expect(actions).toEqual([]);
    expect(snapshot.context).toMatchObject({ id: 'j', attempts: 0, maxAttempts: 4, budget: 4 });
    expect(snapshot.context.history).toEqual([{ at: at(0), from: null, to: 'uploaded', event: 'CREATE', attempt: 0 }]);
  });

  it('walks the happy path uploaded -> queued -> processing -> done with the right actions', () => {
    let [s] = initialTransition(jobMachine, { id: 'j', maxAttempts: 3, at: at(0) });

    let [next, actions] = transition(jobMachine, s, ev({ type: 'ENQUEUE' }, 1));
    expect(next.value).toBe('queued');
    expect(effectsOf(actions)).toEqual([{ type: 'enqueue', params: { jobId: 'j' } }]);
    s = next;

    [next, actions] = transition(jobMachine, s, ev(start('w1', 30, 'r1'), 2));
    expect(next.value).toBe('processing');
    expect(effectsOf(actions)).toEqual([]);
    expect(next.context).toMatchObject({ attempts: 1, workerId: 'w1', leaseUntil: at(32) });
    s = next;

    const result = aResult();
    [next, actions] = transition(jobMachine, s, ev({ type: 'SUCCEED', workerId: 'w1', result, receipt: 'r1' }, 3));
    expect(next.value).toBe('done');
    expect(next.status).toBe('done');
    expect(next.context.result).toEqual(result);
    expect(next.context.leaseUntil).toBeUndefined();
    // Announced before the message is deleted: a crash in between repeats both.
    expect(effectsOf(actions)).toEqual([
      { type: 'announce', params: { jobId: 'j', state: 'done' } },
      { type: 'acknowledge', params: { jobId: 'j', receipt: 'r1' } },
    ]);
    expect(next.context.history.map((h) => [h.from, h.to, h.event, h.attempt, h.workerId])).toEqual([
      [null, 'uploaded', 'CREATE', 0, undefined],
      ['uploaded', 'queued', 'ENQUEUE', 0, undefined],
      ['queued', 'processing', 'START', 1, 'w1'],
      ['processing', 'done', 'SUCCEED', 1, 'w1'],
    ]);
  });

  it('treats a done job with no faces or unknown faces as done, not as a failure', () => {
    const unknownFace = { box: { x: 0, y: 0, width: 10, height: 10 }, score: 0.9, match: null, candidates: [] };
    for (const result of [aResult(), { ...aResult(), faces: [unknownFace] }]) {
      const { after } = step(TO_STATE.processing, { type: 'SUCCEED', workerId: 'w1', result }, 5);
      expect(after.value).toBe('done');
      expect(after.context.error).toBeUndefined();
      expect(after.context.result).toEqual(result);
    }
  });

  it('SWEEP re-enqueues from uploaded and from queued, and nowhere else', () => {
    for (const state of ['uploaded', 'queued'] as const) {
      const { after, actions } = step(TO_STATE[state], { type: 'SWEEP' }, 9);
      expect(after.value).toBe('queued');
      expect(actions).toEqual([{ type: 'enqueue', params: { jobId: 'job-1' } }]);
      expect(after.context.history.at(-1)).toMatchObject({ from: state, to: 'queued', event: 'SWEEP', at: at(9) });
    }
    for (const state of ['processing', 'done', 'dead-lettered'] as const) {
      expect(step(TO_STATE[state], { type: 'SWEEP' }, 9).accepted).toBe(false);
    }
  });

  it('ENQUEUE is accepted only from uploaded', () => {
    expect(step([], { type: 'ENQUEUE' }, 1).accepted).toBe(true);
    for (const state of ['queued', 'processing', 'done', 'dead-lettered'] as const) {
      expect(step(TO_STATE[state], { type: 'ENQUEUE' }, 9).accepted).toBe(false);
    }
  });

  it('refuses START before ENQUEUE', () => {
    expect(step([], start(), 1).accepted).toBe(false);
  });

  describe('retries', () => {
    it('a retryable FAIL with attempts left goes back to queued with scheduleRetry(receipt, attempt)', () => {
      const { after, actions } = step(TO_STATE.processing, { type: 'FAIL', workerId: 'w1', error: retryable(), receipt: 'r1' }, 5);
      expect(after.value).toBe('queued');
      expect(actions).toEqual([{ type: 'scheduleRetry', params: { jobId: 'job-1', receipt: 'r1', attempt: 1 } }]);
      expect(after.context.error).toEqual(retryable());
      expect(after.context.workerId).toBeUndefined();
      expect(after.context.leaseUntil).toBeUndefined();
      expect(after.context.history.at(-1)).toEqual({
        at: at(5),
        from: 'processing',
        to: 'queued',
        event: 'FAIL',
        attempt: 1,
        workerId: 'w1',
        error: retryable(),
      });
    });

    it('dead-letters the failure that uses up the last attempt, acknowledging the message', () => {
      const commands: JobCommand[] = [
        { type: 'ENQUEUE' },
        start('w1'),
        { type: 'FAIL', workerId: 'w1', error: retryable() },
        start('w2'),
      ];
      const { after, actions } = step(commands, { type: 'FAIL', workerId: 'w2', error: retryable('again'), receipt: 'r2' }, 9, 2);
      expect(after.value).toBe('dead-lettered');
      expect(after.context.attempts).toBe(2);
      expect(after.context.deadLetterReason).toMatch(/out of attempts after 2/);
      expect(after.context.deadLetterReason).toContain('again');
      expect(actions).toEqual([
        { type: 'announce', params: { jobId: 'job-1', state: 'dead-lettered' } },
        { type: 'acknowledge', params: { jobId: 'job-1', receipt: 'r2' } },
      ]);
    });

    it('dead-letters a permanent error at once, whatever attempts remain', () => {
      const { after, actions } = step(TO_STATE.processing, { type: 'FAIL', workerId: 'w1', error: permanent(), receipt: 'r1' }, 5, 5);
      expect(after.value).toBe('dead-lettered');
      expect(after.context.attempts).toBe(1);
      expect(after.context.deadLetterReason).toMatch(/permanent error on attempt 1: bad-image: not an image/);
      expect(after.context.error).toEqual(permanent());
      expect(actions).toEqual([
        { type: 'announce', params: { jobId: 'job-1', state: 'dead-lettered' } },
        { type: 'acknowledge', params: { jobId: 'job-1', receipt: 'r1' } },
      ]);
    });

    it('counts attempts across retries', () => {
      const s = snapshotAfter([
        { type: 'ENQUEUE' },
        start('w1'),
        { type: 'FAIL', workerId: 'w1', error: retryable() },
        start('w2'),
      ]);
      expect(s.value).toBe('processing');
      expect(s.context.attempts).toBe(2);
      expect(s.context.workerId).toBe('w2');
    });
  });

  describe('leases', () => {
    it('lets another worker take over only once the lease has run out (at >= leaseUntil)', () => {
      // START at t=2 with a 30 s lease: leaseUntil = t=32.
      const early = step(TO_STATE.processing, start('w2'), 31);
      expect(early.accepted).toBe(false);

      const onTime = step(TO_STATE.processing, start('w2', 60), 32);
      expect(onTime.accepted).toBe(true);
      expect(onTime.after.value).toBe('processing');
      expect(onTime.after.context).toMatchObject({ attempts: 2, workerId: 'w2', leaseUntil: at(92) });
      expect(onTime.after.context.history.at(-1)).toMatchObject({ from: 'processing', to: 'processing', event: 'START', attempt: 2, workerId: 'w2' });
      expect(onTime.actions).toEqual([]);
    });

    it('does not let the holder restart its own live attempt', () => {
      expect(step(TO_STATE.processing, start('w1'), 10).accepted).toBe(false);
    });

    it('HEARTBEAT from the holder extends the lease without a history entry', () => {
      const { after, before, actions } = step(TO_STATE.processing, { type: 'HEARTBEAT', workerId: 'w1', leaseSeconds: 30 }, 20);
      expect(after.value).toBe('processing');
      expect(after.context.leaseUntil).toBe(at(50));
      expect(after.context.history).toEqual(before.context.history);
      expect(actions).toEqual([]);
      // And the extension holds off a takeover that the old lease would have allowed.
      const [blocked] = transition(jobMachine, after, ev(start('w2'), 40));
      expect(blocked).toBe(after);
    });

    it('ignores a HEARTBEAT from another worker', () => {
      expect(step(TO_STATE.processing, { type: 'HEARTBEAT', workerId: 'w2', leaseSeconds: 30 }, 20).accepted).toBe(false);
    });

    it('ignores SUCCEED and FAIL from a worker that does not hold the job', () => {
      expect(step(TO_STATE.processing, { type: 'SUCCEED', workerId: 'w2', result: aResult() }, 5).accepted).toBe(false);
      expect(step(TO_STATE.processing, { type: 'FAIL', workerId: 'w2', error: retryable() }, 5).accepted).toBe(false);
      expect(step(TO_STATE.processing, { type: 'FAIL', workerId: 'w2', error: permanent() }, 5).accepted).toBe(false);
      // The displaced holder after a takeover is such a worker too.
      const takenOver: JobCommand[] = [...TO_STATE.processing, start('w2')];
      const s = snapshotAfter(takenOver);
      expect(s.context.workerId).toBe('w1'); // t=3 < leaseUntil t=32: not yet taken over
      const later = transition(jobMachine, s, ev(start('w2'), 40))[0];
      expect(later.context.workerId).toBe('w2');
      const [stale] = transition(jobMachine, later, ev({ type: 'SUCCEED', workerId: 'w1', result: aResult() }, 41));
      expect(stale).toBe(later);
    });

    it('accepts a duplicate SUCCEED once: the second finds the job done and changes nothing', () => {
      const first = step(TO_STATE.processing, { type: 'SUCCEED', workerId: 'w1', result: aResult(), receipt: 'r1' }, 5);
      expect(first.after.value).toBe('done');
      const [second, actions] = transition(jobMachine, first.after, ev({ type: 'SUCCEED', workerId: 'w1', result: aResult(), receipt: 'r1' }, 6));
      expect(second).toBe(first.after);
      expect(actions).toEqual([]);
      expect(first.after.context.history.filter((h) => h.to === 'done')).toHaveLength(1);
    });
  });

  describe('ABANDON', () => {
    it('dead-letters a queued job with the reason and no queue action, and announces it', () => {
      const { after, actions } = step(TO_STATE.queued, { type: 'ABANDON', reason: 'gave up after 4 deliveries' }, 5);
      expect(after.value).toBe('dead-lettered');
      expect(after.context.deadLetterReason).toBe('gave up after 4 deliveries');
      expect(actions).toEqual([{ type: 'announce', params: { jobId: 'job-1', state: 'dead-lettered' } }]);
    });

    it('dead-letters a processing job only once its lease has run out', () => {
      expect(step(TO_STATE.processing, { type: 'ABANDON', reason: 'x' }, 10).accepted).toBe(false);
      const { after } = step(TO_STATE.processing, { type: 'ABANDON', reason: 'x' }, 40);
      expect(after.value).toBe('dead-lettered');
      expect(after.context.workerId).toBeUndefined();
    });

    it('is refused in uploaded, done and dead-lettered', () => {
      for (const state of ['uploaded', 'done', 'dead-lettered'] as const) {
        expect(step(TO_STATE[state], { type: 'ABANDON', reason: 'x' }, 99).accepted).toBe(false);
      }
    });

    it('ignores a dead letter sent before the job was replayed', () => {
      const replayed: JobCommand[] = [...TO_STATE['dead-lettered'], { type: 'REPLAY' }]; // REPLAY at t=4
      expect(step(replayed, { type: 'ABANDON', reason: 'old', sentAt: at(1) }, 50).accepted).toBe(false);
      expect(step(replayed, { type: 'ABANDON', reason: 'new', sentAt: at(5) }, 50).accepted).toBe(true);
    });
  });

  describe('REPLAY', () => {
    it('sends a dead letter back to queued, keeps history and attempts, and grants the original budget again', () => {
      const dead = snapshotAfter(TO_STATE['dead-lettered'], { maxAttempts: 3 });
      const [after, actions] = transition(jobMachine, dead, ev({ type: 'REPLAY', by: 'ops' }, 10));
      expect(after.value).toBe('queued');
      expect(effectsOf(actions)).toEqual([
        { type: 'removeDeadLetters', params: { jobId: 'job-1' } },
        { type: 'enqueue', params: { jobId: 'job-1' } },
      ]);
      expect(after.context.attempts).toBe(1);
      expect(after.context.maxAttempts).toBe(1 + 3);
      expect(after.context.error).toBeUndefined();
      expect(after.context.deadLetterReason).toBeUndefined();
      expect(after.context.history.slice(0, dead.context.history.length)).toEqual(dead.context.history);
      expect(after.context.history.at(-1)).toMatchObject({ from: 'dead-lettered', to: 'queued', event: 'REPLAY', attempt: 1 });
    });

    it('raises the budget from the original maxAttempts on every replay, not from the raised one', () => {
      let s = snapshotAfter(TO_STATE['dead-lettered'], { maxAttempts: 2 });
      let t = 10;
      for (let round = 1; round <= 3; round++) {
        [s] = transition(jobMachine, s, ev({ type: 'REPLAY' }, t++));
        expect(s.context.maxAttempts).toBe(s.context.attempts + 2);
        [s] = transition(jobMachine, s, ev(start('w1'), t++));
        [s] = transition(jobMachine, s, ev({ type: 'FAIL', workerId: 'w1', error: permanent() }, t++));
        expect(s.value).toBe('dead-lettered');
      }
      expect(s.context.attempts).toBe(4);
    });

    it('is refused outside dead-lettered', () => {
      for (const state of ['uploaded', 'queued', 'processing', 'done'] as const) {
        expect(step(TO_STATE[state], { type: 'REPLAY' }, 9).accepted).toBe(false);
      }
    });
  });

  describe('history', () => {
    it(`keeps the creation entry and the most recent ones, ${HISTORY_LIMIT} in all`, () => {
      let [s] = initialTransition(jobMachine, { id: 'j', maxAttempts: 3, at: at(0) });
      [s] = transition(jobMachine, s, ev({ type: 'ENQUEUE' }, 1));
      for (let i = 0; i < 120; i++) [s] = transition(jobMachine, s, ev({ type: 'SWEEP' }, 2 + i));
      const history = s.context.history;
      expect(history).toHaveLength(HISTORY_LIMIT);
      expect(history[0]).toMatchObject({ event: 'CREATE', from: null });
      expect(history.at(-1)).toMatchObject({ event: 'SWEEP', at: at(121) });
      expect(history[1].at).toBe(at(121 - (HISTORY_LIMIT - 2)));
    });

    it('boundHistory leaves short histories alone', () => {
      const entries: HistoryEntry[] = [{ at: at(0), from: null, to: 'uploaded', event: 'CREATE', attempt: 0 }];
      expect(boundHistory(entries)).toBe(entries);
    });

    it('adds exactly one entry per accepted transition and none for refused events', () => {
      const s = snapshotAfter(TO_STATE.done);
      expect(s.context.history).toHaveLength(4);
      const [same] = transition(jobMachine, s, ev({ type: 'REPLAY' }, 9));
      expect(same.context.history).toHaveLength(4);
    });
  });

  describe('retryAt (a failure that sets its retry time)', () => {
    // Created at 0, ENQUEUE at 1, START at 2, FAIL at 3 asking for no retry before 100.
    const failed: JobCommand[] = [{ type: 'ENQUEUE' }, start('w1', 30, 'r1'), { type: 'FAIL', workerId: 'w1', error: retryable(), receipt: 'r1', retryAt: at(100) }];

    it('goes back to queued, stores retryAt and passes it to scheduleRetry', () => {
      const s = snapshotAfter(failed);
      expect(s.value).toBe('queued');
      expect(s.context.retryAt).toBe(at(100));
      const { actions } = step(failed.slice(0, 2), failed[2]!, 3);
      expect(actions).toEqual([{ type: 'scheduleRetry', params: { jobId: 'job-1', receipt: 'r1', attempt: 1, retryAt: at(100) } }]);
    });

    it('refuses START and SWEEP before retryAt, accepts them from then on, and START clears it', () => {
      expect(step(failed, start('w2'), 99).accepted).toBe(false);
      expect(step(failed, { type: 'SWEEP' }, 99).accepted).toBe(false);
      expect(step(failed, { type: 'SWEEP' }, 100).accepted).toBe(true);
      const { after, accepted } = step(failed, start('w2'), 100);
      expect(accepted).toBe(true);
      expect(after.context.retryAt).toBeUndefined();
      expect(after.context.attempts).toBe(2);
    });

    it('a replay clears it', () => {
      const dead = [...failed, { type: 'ABANDON', reason: 'gave up' } as JobCommand];
      const s = snapshotAfter(dead);
      expect(s.value).toBe('dead-lettered');
      const [replayed] = transition(jobMachine, s, ev({ type: 'REPLAY' }, 10));
      expect(replayed.context.retryAt).toBeUndefined();
      expect(transition(jobMachine, replayed, ev(start('w3'), 11))[0].value).toBe('processing');
    });
  });
});
