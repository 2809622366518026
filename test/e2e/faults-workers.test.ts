/**
 * Faults the system must survive, on the worker side (issue 6): a worker killed mid-job and a
 * message delivered twice. Real `facefleet web` and `facefleet worker` processes on the
 * embedded stores, the real model, short timeouts (see FAST_ENV).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCse546 } from '../helpers/cse546.js';
import { crash, eventsOf, faultPlan, faultScope, linesAbout, submit } from '../helpers/faults.js';
import { eventually } from '../helpers/stack.js';

let images: Buffer[];

beforeAll(async () => {
  images = (await loadCse546()).slice(0, 2).map((i) => i.buffer);
});

describe('faults: workers', () => {
  it('a worker SIGKILLed mid-job: the job comes back after the visibility timeout and is done once, on its second attempt', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    // In each worker the first blobs.get, which comes after START, stalls 8 s (then fails).
    // Whichever worker takes a job first is thus stuck mid-job long enough to be killed there.
    // A decoy job uses up one worker's stall, so the job under test stalls the other one, and
    // the survivor, its stall spent, then runs the job for real.
    const stall = { FACEFLEET_FAULTS: faultPlan({ blobs: { get: { times: 1, delayMs: 8_000 } } }) };
    const [web, a, b] = await Promise.all([scope.web(dir), scope.worker(dir, 'worker-a', stall), scope.worker(dir, 'worker-b', stall)]);
    const workers = [a, b];

    const decoy = await submit(web.url, images[0]!);
    expect(decoy.status).toBe(202);
    const decoyStart = await eventually(async () => linesAbout(workers, 'job started', decoy.json.id)[0], 30_000, 'the decoy job to start');
    const survivor = workers.find((w) => w.workerId === decoyStart.workerId)!;
    const victim = workers.find((w) => w !== survivor)!;

    const sent = await submit(web.url, images[1]!);
    expect(sent.status).toBe(202);
    const id = sent.json.id!;
    const started = await eventually(async () => linesAbout(workers, 'job started', id)[0], 30_000, 'the job to start');
    expect(started.workerId).toBe(victim.workerId);
    const held = await scope.job(dir, id);
    expect(held).toMatchObject({ state: 'processing', attempts: 1 });

    await crash(victim);

    const done = await scope.waitForJob(dir, id, (j) => j.state === 'done', 60_000);
    expect(done.attempts).toBe(2);
    expect(eventsOf(done, 'START').map((h) => h.workerId)).toEqual([victim.workerId, survivor.workerId]);
    expect(eventsOf(done, 'SUCCEED').map((h) => h.workerId)).toEqual([survivor.workerId]);
    expect(done.history.filter((h) => h.to === 'done')).toHaveLength(1);
    expect(done.history.map((h) => h.to)).toEqual(['uploaded', 'queued', 'processing', 'processing', 'done']);
    expect(done.result?.faces).toHaveLength(1);
    // The engine's result was stored by one worker, once.
    await eventually(async () => linesAbout([survivor], 'job done', id).length === 1, 10_000, 'the survivor to log the job done');
    expect(linesAbout(workers, 'job done', id)).toHaveLength(1);

    // The decoy, whose stalled attempt failed, was retried and is done once too.
    const decoyDone = await scope.waitForJob(dir, decoy.json.id!, (j) => j.state === 'done', 60_000);
    expect(eventsOf(decoyDone, 'FAIL')).toHaveLength(1);
    expect(eventsOf(decoyDone, 'SUCCEED')).toHaveLength(1);

    // Nothing is left behind in the queue.
    const { queue } = await scope.stores(dir);
    await eventually(async () => {
      const depth = await queue.depth();
      return depth.visible + depth.inFlight + depth.delayed === 0;
    }, 20_000, 'the queue to drain');
    expect(await queue.deadLetterDepth()).toBe(0);
  }, 180_000);

  it('a message delivered twice: one result, one done transition; the extra copies are acknowledged and ignored', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    const [web, worker] = await Promise.all([scope.web(dir), scope.worker(dir, 'worker-1')]);
    const { queue } = await scope.stores(dir);

    const sent = await submit(web.url, images[0]!);
    expect(sent.status).toBe(202);
    const id = sent.json.id!;
    // A second message for the same job, straight into the queue, as at-least-once delivery may do.
    await queue.send({ jobId: id });

    const done = await scope.waitForJob(dir, id, (j) => j.state === 'done');
    // And a third once the job is done.
    await queue.send({ jobId: id });
    await eventually(
      async () => linesAbout([worker], 'duplicate message for a finished job; acknowledged and ignored', id).length === 2,
      30_000,
      'both extra copies to be acknowledged',
    );
    await eventually(async () => {
      const depth = await queue.depth();
      return depth.visible + depth.inFlight + depth.delayed === 0;
    }, 10_000, 'the queue to drain');

    const after = await scope.job(dir, id);
    expect(after).toEqual(done);
    expect(eventsOf(done, 'START')).toHaveLength(1);
    expect(eventsOf(done, 'SUCCEED')).toHaveLength(1);
    expect(done.history.filter((h) => h.to === 'done')).toHaveLength(1);
    expect(done.result?.faces).toHaveLength(1);
    // Log lines are written in chunks, at most 250 ms late.
    await eventually(async () => linesAbout([worker], 'job done', id).length >= 1, 5_000, 'the job done log line');
    expect(linesAbout([worker], 'job done', id)).toHaveLength(1);
  }, 180_000);
});
