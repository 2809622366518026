import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createJobEffects } from '../../src/jobs/effects.js';
import { InvalidJobRequestError } from '../../src/jobs/errors.js';
import {
  abandonReason,
  listDeadLetters,
  reconcileDeadLetters,
  replayJobs,
  sweepStuckJobs,
  type DeadLetterSummary,
  type ReplayOutcome,
} from '../../src/jobs/operations.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/runner.js';
import { jobContext } from '../../src/jobs/view.js';
import type { JobCommand } from '../../src/jobs/runner.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { InMemoryJobStore, RecordingJobQueue, TO_STATE, makeJobRecord, permanent } from '../helpers/jobs.js';
import { at } from '../helpers/builders.js';

const failWith = (error = permanent()): JobCommand[] => [
  { type: 'ENQUEUE' },
  { type: 'START', workerId: 'w1', leaseSeconds: 30 },
  { type: 'FAIL', workerId: 'w1', error },
];

describe('operations', () => {
  let jobs: InMemoryJobStore;
  let queue: RecordingJobQueue;
  let runner: JobRunner;
  let nowSeconds: number;

  beforeEach(() => {
    jobs = new InMemoryJobStore();
    queue = new RecordingJobQueue();
    nowSeconds = 1000;
    runner = createJobRunner({
      store: jobs,
      effects: createJobEffects({ queue, log: silentLogger(), retryBaseSeconds: 1, random: () => 0 }),
      log: silentLogger(),
      now: () => new Date(at(nowSeconds)),
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  /** Five dead letters d1..d5 (dead-lettered at t=101..105), plus jobs in other states. */
  function seedDeadLetters(): void {
    jobs.seed(
      makeJobRecord({ id: 'd1', commands: failWith(permanent('not an image')), updatedAt: at(101) }),
      makeJobRecord({ id: 'd2', commands: failWith({ code: 'decode', message: 'Corrupt JPEG', retryable: false }), updatedAt: at(102) }),
      makeJobRecord({ id: 'd3', commands: failWith(permanent('not an image')), updatedAt: at(103) }),
      makeJobRecord({ id: 'd4', commands: [...TO_STATE.queued, { type: 'ABANDON', reason: 'gave up after 4 deliveries' }], updatedAt: at(104) }),
      makeJobRecord({ id: 'd5', commands: failWith(permanent('NOT AN IMAGE either')), updatedAt: at(105) }),
      makeJobRecord({ id: 'q1', state: 'queued', updatedAt: at(50) }),
      makeJobRecord({ id: 'x1', state: 'done', updatedAt: at(50) }),
    );
  }

  describe('listDeadLetters', () => {
    it('lists only dead-lettered jobs, oldest first, with reason, attempts, last error and time', async () => {
      seedDeadLetters();
      const page = await listDeadLetters(jobs);
      expect(page.cursor).toBeUndefined();
      expect(page.items.map((s) => s.id)).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
      expect(page.items[0]).toEqual<DeadLetterSummary>({
        id: 'd1',
        reason: 'permanent error on attempt 1: bad-image: not an image',
        attempts: 1,
        lastError: permanent('not an image'),
        // the time of the history entry that entered dead-lettered (third command: t=3)
        at: at(3),
      });
      expect(page.items[3]).toEqual({ id: 'd4', reason: 'gave up after 4 deliveries', attempts: 0, at: at(2) });
    });

    it('lists a record with an unreadable snapshot instead of failing the whole listing', async () => {
      seedDeadLetters();
      jobs.seed({ ...makeJobRecord({ id: 'bad', state: 'dead-lettered', updatedAt: at(200) }), snapshot: { broken: true } });
      const page = await listDeadLetters(jobs);
      expect(page.items.map((s) => s.id)).toEqual(['d1', 'd2', 'd3', 'd4', 'd5', 'bad']);
      expect(page.items[5]).toEqual({ id: 'bad', reason: 'unreadable job snapshot', attempts: 0, at: at(200) });
    });

    it('filters by a case-insensitive substring of the reason', async () => {
      seedDeadLetters();
      const page = await listDeadLetters(jobs, { reason: 'Not An Image' });
      expect(page.items.map((s) => s.id)).toEqual(['d1', 'd3', 'd5']);
    });

    it('filters by time', async () => {
      jobs.seed(
        makeJobRecord({ id: 'old', state: 'dead-lettered', updatedAt: at(10) }),
        makeJobRecord({ id: 'new', commands: [...TO_STATE.queued, { type: 'ABANDON', reason: 'r' }], updatedAt: at(20) }),
      );
      // Both were dead-lettered by their last history entry: old at t=3, new at t=2.
      expect((await listDeadLetters(jobs, { since: at(3) })).items.map((s) => s.id)).toEqual(['old']);
      expect((await listDeadLetters(jobs, { since: at(2) })).items.map((s) => s.id)).toEqual(['old', 'new']);
      await expect(listDeadLetters(jobs, { since: 'yesterday' })).rejects.toBeInstanceOf(InvalidJobRequestError);
    });

    it('pages with a cursor, with and without a filter, never skipping or repeating a job', async () => {
      seedDeadLetters();
      const collect = async (options: { reason?: string; limit: number }) => {
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await listDeadLetters(jobs, { ...options, cursor });
          pages.push(page.items.map((s) => s.id));
          cursor = page.cursor;
        } while (cursor !== undefined);
        return pages;
      };
      expect(await collect({ limit: 2 })).toEqual([['d1', 'd2'], ['d3', 'd4'], ['d5']]);
      const filtered = await collect({ reason: 'image', limit: 2 });
      expect(filtered.flat()).toEqual(['d1', 'd3', 'd5']);
      expect(filtered[0]).toEqual(['d1', 'd3']);
    });

    it('keeps filtered pages to the limit when the store holds more matches than fit', async () => {
      const abandoned = (id: string, reason: string, t: number) =>
        makeJobRecord({ id, commands: [...TO_STATE.queued, { type: 'ABANDON', reason }], updatedAt: at(t) });
      jobs.seed(abandoned('m1', 'crash', 1), abandoned('n2', 'other', 2), abandoned('m3', 'crash', 3), abandoned('m4', 'crash', 4));
      const first = await listDeadLetters(jobs, { reason: 'crash', limit: 2 });
      expect(first.items.map((s) => s.id)).toEqual(['m1', 'm3']);
      const second = await listDeadLetters(jobs, { reason: 'crash', limit: 2, cursor: first.cursor });
      expect(second.items.map((s) => s.id)).toEqual(['m4']);
      expect(second.cursor).toBeUndefined();
    });
  });

  describe('replayJobs', () => {
    it('replays given ids, skipping jobs not dead-lettered with their state and reporting unknown ids', async () => {
      seedDeadLetters();
      const report = await replayJobs({ jobs, runner }, { ids: ['d1', 'q1', 'nope', 'd2', 'd1'] });
      expect(report).toEqual({
        matched: 4,
        replayed: 2,
        skipped: [{ id: 'q1', state: 'queued' }],
        notFound: ['nope'],
        failed: [],
        dryRun: false,
        aborted: false,
      });
      expect(jobs.records.get('d1')?.state).toBe('queued');
      expect(jobs.records.get('d2')?.state).toBe('queued');
      expect(jobs.records.get('q1')?.version).toBe(0);
      expect(queue.sent.map((m) => m.body.jobId)).toEqual(['d1', 'd2']);
      expect(queue.deadLetterRemovals).toEqual(['d1', 'd2']);
    });

    it('keeps history and raises the attempt budget of replayed jobs', async () => {
      seedDeadLetters();
      const before = jobContext(jobs.records.get('d1')!);
      await replayJobs({ jobs, runner }, { ids: ['d1'] });
      const after = jobContext(jobs.records.get('d1')!);
      expect(after.history.slice(0, before.history.length)).toEqual(before.history);
      expect(after.history.at(-1)).toMatchObject({ event: 'REPLAY', from: 'dead-lettered', to: 'queued' });
      expect(after.maxAttempts).toBe(before.attempts + 3);
    });

    it('enqueues once when the same replay runs twice', async () => {
      seedDeadLetters();
      await replayJobs({ jobs, runner }, { ids: ['d3'] });
      const second = await replayJobs({ jobs, runner }, { ids: ['d3'] });
      expect(second.replayed).toBe(0);
      expect(second.skipped).toEqual([{ id: 'd3', state: 'queued' }]);
      expect(queue.sent).toEqual([{ body: { jobId: 'd3' } }]);

      const all1 = await replayJobs({ jobs, runner }, { all: true });
      const all2 = await replayJobs({ jobs, runner }, { all: true });
      expect(all1.replayed).toBe(4);
      expect(all2).toMatchObject({ matched: 0, replayed: 0 });
      expect(queue.sent.map((m) => m.body.jobId).sort()).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
    });

    it('replays every dead letter, or only those whose reason matches', async () => {
      seedDeadLetters();
      const byReason = await replayJobs({ jobs, runner }, { reason: 'DELIVERIES' });
      expect(byReason).toMatchObject({ matched: 1, replayed: 1 });
      expect(jobs.records.get('d4')?.state).toBe('queued');
      const rest = await replayJobs({ jobs, runner }, { all: true });
      expect(rest).toMatchObject({ matched: 4, replayed: 4, skipped: [], notFound: [] });
      expect((await jobs.countByState())['dead-lettered']).toBe(0);
    });

    it('changes nothing in a dry run and reports what it would do', async () => {
      seedDeadLetters();
      const versions = [...jobs.records.values()].map((r) => [r.id, r.version]);
      const report = await replayJobs({ jobs, runner }, { ids: ['d1', 'q1', 'nope'] }, { dryRun: true });
      expect(report).toMatchObject({ matched: 3, replayed: 1, skipped: [{ id: 'q1', state: 'queued' }], notFound: ['nope'], dryRun: true });
      const all = await replayJobs({ jobs, runner }, { all: true }, { dryRun: true });
      expect(all).toMatchObject({ matched: 5, replayed: 5 });
      expect([...jobs.records.values()].map((r) => [r.id, r.version])).toEqual(versions);
      expect(queue.sent).toEqual([]);
      expect(jobs.calls.filter((c) => c.startsWith('save'))).toEqual([]);
    });

    it('refuses an empty or ambiguous selector', async () => {
      await expect(replayJobs({ jobs, runner }, {})).rejects.toBeInstanceOf(InvalidJobRequestError);
      await expect(replayJobs({ jobs, runner }, { ids: [] })).rejects.toBeInstanceOf(InvalidJobRequestError);
      await expect(replayJobs({ jobs, runner }, { ids: ['a'], all: true })).rejects.toBeInstanceOf(InvalidJobRequestError);
    });

    it('reports progress after every job', async () => {
      seedDeadLetters();
      const progress: [number, number, ReplayOutcome][] = [];
      await replayJobs({ jobs, runner }, { ids: ['d1', 'q1', 'nope'] }, { onProgress: (d, t, o) => progress.push([d, t, o]) });
      expect(progress).toEqual([
        [1, 3, { id: 'd1', outcome: 'replayed' }],
        [2, 3, { id: 'q1', outcome: 'skipped', state: 'queued' }],
        [3, 3, { id: 'nope', outcome: 'not-found' }],
      ]);
    });

    it('records a job whose replay failed and carries on with the rest', async () => {
      seedDeadLetters();
      let calls = 0;
      jobs.beforeSave = async () => {
        if (calls++ === 0) throw new StoreUnavailableError('throttled');
      };
      const report = await replayJobs({ jobs, runner }, { ids: ['d1', 'd2'] });
      expect(report.replayed).toBe(1);
      expect(report.failed).toEqual([{ id: 'd1', error: { code: 'store-unavailable', message: 'throttled', retryable: true } }]);
      expect(jobs.records.get('d1')?.state).toBe('dead-lettered');
    });

    it('counts a job as replayed when only its message failed to send (the sweeper resends it)', async () => {
      seedDeadLetters();
      queue.failNext.send = new StoreUnavailableError('queue down');
      const report = await replayJobs({ jobs, runner }, { ids: ['d1'] });
      expect(report).toMatchObject({ replayed: 1, failed: [] });
      expect(jobs.records.get('d1')?.state).toBe('queued');
    });

    it('is rate limited: replays are spaced 1/rate seconds apart', async () => {
      vi.useFakeTimers();
      seedDeadLetters();
      const done: number[] = [];
      const running = replayJobs({ jobs, runner }, { all: true }, { ratePerSecond: 2, onProgress: (d) => done.push(d) });
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toEqual([1]);
      await vi.advanceTimersByTimeAsync(499);
      expect(done).toEqual([1]);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toEqual([1, 2]);
      await vi.advanceTimersByTimeAsync(1500);
      expect(done).toEqual([1, 2, 3, 4, 5]);
      expect((await running).replayed).toBe(5);
    });

    it('stops when aborted, reports what it did, and a rerun finishes the rest', async () => {
      vi.useFakeTimers();
      seedDeadLetters();
      const controller = new AbortController();
      const running = replayJobs({ jobs, runner }, { all: true }, { ratePerSecond: 1, signal: controller.signal });
      await vi.advanceTimersByTimeAsync(1500); // two replays: at 0 ms and 1000 ms
      controller.abort();
      const report = await running; // the pending wait ends at once on abort
      expect(report).toMatchObject({ matched: 5, replayed: 2, aborted: true });
      expect((await jobs.countByState())['dead-lettered']).toBe(3);

      vi.useRealTimers();
      const rerun = await replayJobs({ jobs, runner }, { all: true }, { ratePerSecond: 0 });
      expect(rerun).toMatchObject({ matched: 3, replayed: 3, aborted: false });
      expect(queue.sent).toHaveLength(5);
    });
  });

  describe('sweepStuckJobs', () => {
    it('re-enqueues uploaded and queued jobs untouched for staleSeconds, and nothing else', async () => {
      jobs.seed(
        makeJobRecord({ id: 'u-old', state: 'uploaded', updatedAt: at(100) }),
        makeJobRecord({ id: 'q-old', state: 'queued', updatedAt: at(200) }),
        makeJobRecord({ id: 'q-new', state: 'queued', updatedAt: at(950) }),
        makeJobRecord({ id: 'p-old', state: 'processing', updatedAt: at(100) }),
        makeJobRecord({ id: 'd-old', state: 'dead-lettered', updatedAt: at(100) }),
      );
      const now = new Date(at(1000));
      expect(await sweepStuckJobs({ jobs, runner }, { staleSeconds: 60, now })).toBe(2);
      expect(queue.sent.map((m) => m.body.jobId).sort()).toEqual(['q-old', 'u-old']);
      expect(jobs.records.get('u-old')?.state).toBe('queued');
      expect(jobContext(jobs.records.get('q-old')!).history.at(-1)).toMatchObject({ event: 'SWEEP', from: 'queued', to: 'queued' });
      expect(jobs.records.get('q-new')?.version).toBe(0);
      // Sweeping touched them, so the same sweep right after finds nothing.
      expect(await sweepStuckJobs({ jobs, runner }, { staleSeconds: 60, now })).toBe(0);
      expect(queue.sent).toHaveLength(2);
    });

    it('keeps sweeping the rest when one job fails', async () => {
      jobs.seed(
        makeJobRecord({ id: 'a', state: 'queued', updatedAt: at(1) }),
        makeJobRecord({ id: 'b', state: 'queued', updatedAt: at(2) }),
      );
      queue.failNext.send = new StoreUnavailableError('down');
      expect(await sweepStuckJobs({ jobs, runner }, { staleSeconds: 60, now: new Date(at(1000)) })).toBe(1);
    });
  });

  describe('reconcileDeadLetters', () => {
    it('dead-letters queued and lease-expired processing jobs whose message the queue gave up on', async () => {
      jobs.seed(
        makeJobRecord({ id: 'queued', state: 'queued' }),
        makeJobRecord({ id: 'expired', state: 'processing' }), // lease until t=32, now t=1000
        makeJobRecord({ id: 'live', commands: [{ type: 'ENQUEUE' }, { type: 'START', workerId: 'w1', leaseSeconds: 5000 }] }),
        makeJobRecord({ id: 'done', state: 'done' }),
        makeJobRecord({ id: 'replayed', commands: [...failWith(), { type: 'REPLAY' }] }), // REPLAY at t=4
      );
      const dead = (jobId: string, receiveCount: number, sentAt = at(1)) => ({ messageId: `m-${jobId}`, body: { jobId }, receiveCount, sentAt });
      queue.deadLetters = [dead('queued', 4), dead('expired', 5), dead('live', 4), dead('done', 4), dead('gone', 4), dead('replayed', 4)];

      expect(await reconcileDeadLetters({ queue, runner })).toBe(2);
      expect(jobs.records.get('queued')?.state).toBe('dead-lettered');
      expect(jobContext(jobs.records.get('queued')!).deadLetterReason).toBe(abandonReason(4));
      expect(abandonReason(4)).toBe('gave up after 4 deliveries (worker crashed or timed out each time)');
      expect(jobContext(jobs.records.get('expired')!).deadLetterReason).toBe(abandonReason(5));
      expect(jobs.records.get('live')?.state).toBe('processing');
      expect(jobs.records.get('done')?.state).toBe('done');
      expect(jobs.records.get('replayed')?.state).toBe('queued');
      // The dead letters stay until a replay removes them.
      expect(queue.deadLetters).toHaveLength(6);
      expect(await reconcileDeadLetters({ queue, runner })).toBe(0);
    });

    it('pages through a long dead-letter queue', async () => {
      const ids = Array.from({ length: 230 }, (_, i) => `j${i}`);
      jobs.seed(...ids.map((id) => makeJobRecord({ id, state: 'queued' })));
      queue.deadLetters = ids.map((jobId) => ({ messageId: jobId, body: { jobId }, receiveCount: 4, sentAt: at(1) }));
      expect(await reconcileDeadLetters({ queue, runner })).toBe(230);
    });

    it('replaying an abandoned job removes its dead letter and enqueues it again', async () => {
      jobs.seed(makeJobRecord({ id: 'j', state: 'queued' }));
      queue.deadLetters = [{ messageId: 'm', body: { jobId: 'j' }, receiveCount: 4, sentAt: at(1) }];
      await reconcileDeadLetters({ queue, runner });
      nowSeconds = 2000;
      const report = await replayJobs({ jobs, runner }, { ids: ['j'] });
      expect(report.replayed).toBe(1);
      expect(queue.deadLetters).toEqual([]);
      expect(queue.sent).toEqual([{ body: { jobId: 'j' } }]);
    });
  });
});
