/**
 * Unknown clusters on the local stores without the model: merge and forget leave nothing in the
 * database files or the blob store, two workers racing on a new person end as one cluster after
 * the recluster job, and retention expires clusters on a fake clock.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobEffects } from '../../src/jobs/effects.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/runner.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { Engine } from '../../src/recognition/types.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { forgetCluster, mergeClusters, recluster } from '../../src/unknowns/operations.js';
import { submitRecluster } from '../../src/unknowns/recluster-job.js';
import { sweepUnknowns } from '../../src/unknowns/sweep.js';
import { startSweeper } from '../../src/processes/sweeper.js';
import { unknownThumbnailKey } from '../../src/unknowns/thumbnails.js';
import { CLUSTER_RADIUS, MERGE_RULE, mergeLimit } from '../../src/unknowns/rules.js';
import { templateOf } from '../../src/unknowns/clusters.js';
import { euclidean } from '../../src/recognition/matcher.js';
import { trackUnknownFaces, type TrackFace } from '../../src/unknowns/tracker.js';
import { createWorker } from '../../src/worker/worker.js';
import { trackUnknownsIn } from '../../src/worker/unknown-faces.js';
import type { DetectedFace, RecognizedFace } from '../../src/recognition/types.js';
import { validJpeg } from '../helpers/hostile.js';
import { filesContaining } from '../helpers/residue.js';
import { eventually } from '../helpers/stack.js';
import { near } from '../helpers/unknowns.js';

let dir: string;
let stores: LocalStores;
let runner: JobRunner;
let image: Buffer;
const log = silentLogger();
const face = (descriptor: Float32Array): TrackFace => ({ box: { x: 4, y: 4, width: 120, height: 120 }, score: 0.95, descriptor });
const bytesOf = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-unknowns-'));
  stores = openLocalStores({ dataDir: dir, log });
  runner = createJobRunner({ store: stores.jobs, effects: createJobEffects({ queue: stores.queue, log, retryBaseSeconds: 1 }), log });
  image = await validJpeg(160);
});
afterAll(async () => {
  await stores.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function track(collection: string, jobId: string, descriptor: Float32Array, now?: Date) {
  const out = await trackUnknownFaces({ blobs: stores.blobs, log, ...(now ? { now: () => now } : {}) }, { store: stores.gallery.unknowns(collection), jobId, pipeline: 'standard', image }, [face(descriptor)]);
  return { ref: out.refs[0]!, reclusterWanted: out.reclusterWanted };
}

/** Every key under blobs/unknowns, as files. */
async function thumbnailFiles(): Promise<string[]> {
  return (await fs.readdir(path.join(dir, 'blobs', 'unknowns')).catch(() => [])).sort();
}

describe('unknown clusters: merge, forget, races and retention', () => {
  it('merge leaves nothing of the merged-away cluster in any file; forget leaves nothing of the cluster at all', async () => {
    await stores.gallery.createCollection('residue', { trackUnknowns: true });
    const store = stores.gallery.unknowns('residue');
    const a = (await track('residue', 'job-a1', near(21, 0, 0))).ref!;
    await track('residue', 'job-a2', near(21, 1, 0.3));
    const b = (await track('residue', 'job-b1', near(22, 0, 0))).ref!;
    expect(a.id).not.toBe(b.id);
    const before = await store.get(b.id);
    const bRep = before!.representatives[0]!;
    const bThumb = await stores.blobs.get(unknownThumbnailKey(bRep.id));
    const needles = { id: Buffer.from(b.id) };
    expect((await filesContaining(dir, needles)).length).toBeGreaterThan(0);

    const merged = await mergeClusters({ blobs: stores.blobs, log }, store, [b.id, a.id]);
    expect(merged.sightings).toBe(3);
    expect(await store.get(b.id)).toBeNull();
    expect(await filesContaining(dir, needles)).toEqual([]);
    // b's representative is the survivor's now (its thumbnail with it), not a file of b's.
    expect(merged.representatives.map((r) => r.id)).toContain(bRep.id);
    expect(await stores.blobs.get(unknownThumbnailKey(bRep.id))).toEqual(bThumb);

    const survivor = (await store.get(merged.id))!;
    const secrets: Record<string, Buffer> = { id: Buffer.from(survivor.id) };
    for (const r of survivor.representatives) {
      secrets[`d-${r.id}`] = bytesOf(r.descriptor);
      secrets[`t-${r.id}`] = await stores.blobs.get(unknownThumbnailKey(r.id));
    }
    expect((await filesContaining(dir, secrets)).length).toBeGreaterThan(0);
    await forgetCluster({ blobs: stores.blobs, log }, store, survivor.id);
    expect(await store.list()).toEqual([]);
    expect(await filesContaining(dir, secrets)).toEqual([]);
  });

  it('a retried job counts its sighting once', async () => {
    await stores.gallery.createCollection('retry', { trackUnknowns: true });
    const first = (await track('retry', 'job-x', near(51, 0, 0))).ref!;
    const again = (await track('retry', 'job-x', near(51, 0, 0))).ref!;
    expect(again).toEqual(first);
    expect((await stores.gallery.unknowns('retry').list()).map((c) => c.sightings)).toEqual([1]);
  });

  it('announces unknown.created when a cluster starts, again when the job that started it is retried, never on a join', async () => {
    await stores.gallery.createCollection('announce', { trackUnknowns: true });
    const published: Array<{ collection: string; type: string; data: Record<string, unknown>; key: string }> = [];
    const { annotate } = trackUnknownsIn({
      gallery: stores.gallery,
      blobs: stores.blobs,
      runner,
      log,
      pipeline: 'standard',
      maxAttempts: 3,
      publishEvent: async (collection, type, data, options) => {
        published.push({ collection, type, data, key: options.key });
        return [];
      },
    });
    const job = (jobId: string, descriptor: Float32Array) => {
      const detected = [{ ...face(descriptor), landmarks: [] }] as unknown as DetectedFace[];
      const recognized = [{ box: detected[0]!.box, score: 0.95, match: null, reason: 'no-close-identity', candidates: [] }] as unknown as RecognizedFace[];
      return annotate({ collection: 'announce', jobId, image, detected, recognized });
    };
    const [started] = await job('job-a1', near(61, 0, 0));
    const id = started!.unknown!.id;
    expect(published).toEqual([{ collection: 'announce', type: 'unknown.created', data: expect.objectContaining({ unknownId: id, jobId: 'job-a1' }), key: `unknown.created:${id}` }]);
    await job('job-a1', near(61, 0, 0)); // the same job, retried: announced again under the same key
    expect(published.map((p) => p.key)).toEqual([`unknown.created:${id}`, `unknown.created:${id}`]);
    const [joined] = await job('job-a2', near(61, 1, 0.1)); // another sighting of the same stranger
    expect(joined!.unknown!.id).toBe(id);
    expect(published).toHaveLength(2);
  });

  it('two workers racing on a new person make two clusters; the recluster job makes them one, and again changes nothing', async () => {
    await stores.gallery.createCollection('race', { trackUnknowns: true });
    const store = stores.gallery.unknowns('race');
    const [one, two] = await Promise.all([track('race', 'job-r1', near(31, 0, 0)), track('race', 'job-r2', near(31, 1, 0.2))]);
    expect(one.ref!.id).not.toBe(two.ref!.id);
    expect((await store.list()).length).toBe(2);
    expect(one.reclusterWanted || two.reclusterWanted).toBe(true);

    const engine: Engine = { backend: 'test', detector: 'test', analyze: () => Promise.reject(new Error('recluster needs no engine')), close: async () => {} };
    const worker = createWorker({ config: loadConfig({ dataDir: dir, queueWait: 1, workerId: 'w-recluster' }, {}), log, engine, runner, ...stores });
    void worker.run();
    try {
      for (const bucket of ['first', 'again']) {
        const { jobId, created } = await submitRecluster({ blobs: stores.blobs, runner }, { collection: 'race', bucket, maxAttempts: 3 });
        expect(created).toBe(true);
        expect((await submitRecluster({ blobs: stores.blobs, runner }, { collection: 'race', bucket, maxAttempts: 3 })).created).toBe(false);
        const done = await eventually(async () => {
          const r = await stores.jobs.get(jobId);
          return r?.state === 'done' ? r : null;
        }, 10_000, `recluster job ${bucket} done`);
        const result = (done.snapshot as { context: { result: { recluster: { merged: number; clusters: number } } } }).context.result.recluster;
        expect(result).toEqual(bucket === 'first' ? { merged: 1, clusters: 1 } : { merged: 0, clusters: 1 });
      }
    } finally {
      await worker.stop(2000);
    }
    const [only] = await store.list();
    expect(only!.sightings).toBe(2);
    expect([one.ref!.id, two.ref!.id]).toContain(only!.id);
    // The next face of that person joins the one cluster.
    expect((await track('race', 'job-r3', near(31, 2, 0.2))).ref!.id).toBe(only!.id);
  });

  it("a person's odd photo starts a cluster, asks for a recluster, and the stray step puts it with the person", async () => {
    await stores.gallery.createCollection('odd', { trackUnknowns: true });
    const store = stores.gallery.unknowns('odd');
    const first = await track('odd', 'job-o1', near(41, 0, 0));
    for (const [k, jobId] of [[1, 'job-o2'], [2, 'job-o3']] as const) expect((await track('odd', jobId, near(41, k, 0.05))).ref!.id).toBe(first.ref!.id);
    const [person] = await store.list();
    const template = templateOf(person!)!;
    expect(template.faces).toBe(3);
    // Beyond the join radius and the merge limit of one face and three, within the stray limit.
    const odd = near(41, 9, (Math.max(CLUSTER_RADIUS, mergeLimit(1, 3)) + MERGE_RULE.stray!.limit) / 2);
    const d = euclidean(odd, template.mean);
    expect(d).toBeGreaterThan(Math.max(CLUSTER_RADIUS, mergeLimit(1, 3)));
    expect(d).toBeLessThan(MERGE_RULE.stray!.limit);
    const stray = await track('odd', 'job-o4', odd);
    expect(stray.ref!.id).not.toBe(first.ref!.id);
    expect(stray.reclusterWanted).toBe(true);
    expect(await recluster({ blobs: stores.blobs, log }, store)).toEqual({ merged: 1, clusters: 1 });
    const [only] = await store.list();
    expect(only!.id).toBe(first.ref!.id);
    expect(only!.sightings).toBe(4);
    expect(await recluster({ blobs: stores.blobs, log }, store)).toEqual({ merged: 0, clusters: 1 });
  });

  it('the sweep deletes clusters not seen within unknownRetentionDays, with their thumbnails (fake clock)', async () => {
    await stores.gallery.createCollection('kept-short', { trackUnknowns: true, unknownRetentionDays: 2 });
    const t0 = new Date('2026-03-01T12:00:00.000Z');
    const day = 86_400_000;
    const old = (await track('kept-short', 'job-o', near(41, 0, 0), t0)).ref!;
    const fresh = (await track('kept-short', 'job-f', near(42, 0, 0), new Date(t0.getTime() + 1.5 * day))).ref!;
    const oldThumbs = (await stores.gallery.unknowns('kept-short').get(old.id))!.representatives.map((r) => unknownThumbnailKey(r.id));
    const deps = { gallery: stores.gallery, blobs: stores.blobs, runner, log };

    const early = await sweepUnknowns(deps, { now: new Date(t0.getTime() + 1.9 * day), maxAttempts: 3, nightlyRecluster: false });
    expect(early.expired).toBe(0);
    const late = await sweepUnknowns(deps, { now: new Date(t0.getTime() + 2.1 * day), maxAttempts: 3, nightlyRecluster: false });
    expect(late.expired).toBe(1);
    expect((await stores.gallery.unknowns('kept-short').list()).map((c) => c.id)).toEqual([fresh.id]);
    for (const key of oldThumbs) expect(await stores.blobs.exists(key)).toBe(false);
    expect(await thumbnailFiles()).not.toEqual([]);
    const gone = await sweepUnknowns(deps, { now: new Date(t0.getTime() + 3.6 * day), maxAttempts: 3, nightlyRecluster: false });
    expect(gone.expired).toBe(1);
    expect(await stores.gallery.unknowns('kept-short').list()).toEqual([]);
  });

  it('the sweeper as the web tier starts it expires old clusters and asks for the nightly recluster', async () => {
    await stores.gallery.createCollection('swept', { trackUnknowns: true, unknownRetentionDays: 1 });
    const old = (await track('swept', 'job-s', near(61, 0, 0), new Date('2020-01-01T00:00:00.000Z'))).ref!;
    const sweeper = startSweeper({ jobs: stores.jobs, blobs: stores.blobs, runner, log, gallery: stores.gallery }, { intervalSeconds: 0.05, staleSeconds: 600 });
    try {
      await eventually(async () => (await stores.gallery.unknowns('swept').get(old.id)) === null, 5_000, 'the old cluster expired');
      await eventually(
        async () => (await stores.jobs.listByState('queued', { limit: 1000 })).items.some((j) => j.kind === 'recluster' && j.options.collection === 'swept'),
        5_000,
        'the nightly recluster job queued',
      );
    } finally {
      sweeper.stop();
    }
  });
});
