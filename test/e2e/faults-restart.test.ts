/**
 * Faults the system must survive, across process restarts (issue 6): the web tier killed
 * between creating a job and sending its message, and the whole stack stopped (SIGTERM) and
 * killed (SIGKILL) mid-load. Real processes, real model, short timeouts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_STATES, type JobState } from '../../src/jobs/types.js';
import { loadCse546 } from '../helpers/cse546.js';
import { crash, eventsOf, faultPlan, faultScope, submit, type SubmitResult } from '../helpers/faults.js';
import { eventually } from '../helpers/stack.js';

let images: Buffer[];

beforeAll(async () => {
  images = (await loadCse546()).slice(0, 40).map((i) => i.buffer);
});

describe('faults: restarts', () => {
  it('the web tier dies between creating a job and sending its message: a restarted web tier sweeps the job into the queue and it completes', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    // Every queue.send of this web tier stalls 5 s, then fails: each job is stored and marked
    // queued, but its message never goes out.
    const noSend = { FACEFLEET_FAULTS: faultPlan({ queue: { send: { delayMs: 5_000 } } }) };
    const [web, worker] = await Promise.all([scope.web(dir, noSend), scope.worker(dir, 'worker-1')]);
    const stores = await scope.stores(dir);

    // The send fails: 503, naming the job so the client can poll it instead of uploading again.
    const refused = await submit(web.url, images[0]!);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const refusedId = refused.json.jobId!;
    expect(refusedId).toEqual(expect.any(String));

    // The web tier is killed while the next send is in flight.
    const pending = submit(web.url, images[1]!).catch((err: unknown) => err as Error);
    const cut = await eventually(
      async () => (await stores.jobs.listByState('queued')).items.find((j) => j.id !== refusedId),
      10_000,
      'the second job to be stored',
    );
    await crash(web);
    const answer: SubmitResult | Error = await pending;
    // Killed in the send (the usual case) the client gets no answer; had the send failed first, a 503.
    if (!(answer instanceof Error)) expect(answer.status).toBe(503);

    // Both jobs are queued without a message: the worker has nothing to receive.
    for (const id of [refusedId, cut.id]) expect((await scope.job(dir, id))?.state).toBe('queued');
    expect(await stores.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    // A new web tier's sweeper sends their messages, and the worker does the jobs.
    const restarted = await scope.web(dir, { FACEFLEET_SWEEP_INTERVAL: '1', FACEFLEET_SWEEP_STALE: '3' });
    for (const id of [refusedId, cut.id]) {
      const done = await scope.waitForJob(dir, id, (j) => j.state === 'done');
      // A job still waiting when the next sweep comes round is swept (and sent) again: harmless,
      // since only one START is accepted. It is still started once and done once.
      expect(done.history.map((h) => h.event).filter((e) => e !== 'SWEEP')).toEqual(['CREATE', 'ENQUEUE', 'START', 'SUCCEED']);
      expect(done.history[2]?.event).toBe('SWEEP');
      expect(done.result?.faces).toHaveLength(1);
    }
    const polled = await fetch(`${restarted.url}/v1/jobs/${refusedId}`);
    expect(polled.status).toBe(200);
    expect(await polled.json()).toMatchObject({ id: refusedId, state: 'done' });
    expect(worker.proc.exitCode).toBeNull();
  }, 180_000);

  it('the whole stack stopped (SIGTERM) and then killed (SIGKILL) mid-load: every accepted job is done, once', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    const stores = await scope.stores(dir);
    const counts = async (): Promise<Record<JobState, number>> => stores.jobs.countByState();

    const first = await scope.up(dir, ['--workers', '1']);
    const ids: string[] = [];
    for (let i = 0; i < images.length; i += 8) {
      const batch = await Promise.all(images.slice(i, i + 8).map((image) => submit(first.url, image)));
      for (const res of batch) {
        expect(res.status).toBe(202);
        ids.push(res.json.id!);
      }
    }

    // A graceful stop mid-load: the worker finishes the job in hand, the rest stay queued.
    await eventually(async () => (await counts()).done >= 5, 120_000, '5 jobs done');
    await first.stop();
    expect(await first.exited).toBe(0);
    const afterStop = await counts();
    expect(afterStop.done).toBeLessThan(ids.length);
    expect(afterStop.processing).toBe(0);

    // A crash mid-load: web tier, controller and worker all killed at once.
    const second = await scope.up(dir, ['--workers', '1']);
    await eventually(async () => (await counts()).done >= afterStop.done + 5, 120_000, '5 more jobs done');
    await crash(second);
    expect((await counts()).done).toBeLessThan(ids.length);

    // Back up once more: everything accepted gets done.
    await scope.up(dir, ['--workers', '1']);
    await eventually(async () => (await counts()).done === ids.length, 150_000, `all ${ids.length} jobs done`);
    const final = await counts();
    expect(JOB_STATES.reduce((n, s) => n + final[s], 0)).toBe(ids.length);
    for (const id of ids) {
      const job = (await scope.job(dir, id))!;
      expect(job.state).toBe('done');
      expect(eventsOf(job, 'SUCCEED')).toHaveLength(1);
      expect(job.history.filter((h) => h.to === 'done')).toHaveLength(1);
      expect(job.result?.faces).toHaveLength(1);
    }
  }, 400_000);
});
