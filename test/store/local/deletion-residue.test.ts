import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forgetFaces } from '../../../src/jobs/forget-faces.js';
import { deleteJobData } from '../../../src/jobs/retention.js';
import { thumbnailKey } from '../../../src/jobs/thumbnails.js';
import { silentLogger } from '../../../src/log.js';
import { openLocalStores, type LocalStores } from '../../../src/store/local/index.js';
import { aDescriptor, aJob } from '../../helpers/builders.js';
import { filesContaining } from '../../helpers/residue.js';

/**
 * Deleted means gone from the files: after a delete, no file of the data dir (facefleet.db, its
 * -wal and -shm, blobs/) holds the deleted job's id, image or result, or the removed identity's
 * name or descriptor bytes. Each test first shows the search finds what is still there.
 */
describe('local data dir after deletes', () => {
  let dir: string;
  let stores: LocalStores;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-residue-'));
    stores = openLocalStores({ dataDir: dir, maxReceiveCount: 1 });
  });
  afterEach(async () => {
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a deleted job leaves neither its id, its image nor its result in any file', async () => {
    const id = randomUUID();
    const image = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(8192)]);
    const secret = `face-of-${randomUUID()}`;
    const job = aJob({
      id,
      state: 'done',
      input: { key: `inputs/${id.slice(0, 2)}/${id}`, contentType: 'image/jpeg', bytes: image.length },
      snapshot: { value: 'done', context: { id, result: { enrolled: { identity: secret } } } },
    });
    await stores.blobs.put(job.input.key, image);
    await stores.jobs.create(job);
    const needles = { id: Buffer.from(id), image: image.subarray(0, 2048), result: Buffer.from(secret) };
    const before = await filesContaining(dir, needles);
    for (const label of Object.keys(needles)) expect(before.some((f) => f.endsWith(`: ${label}`))).toBe(true);

    await deleteJobData(stores, job);
    expect(await stores.jobs.get(id)).toBeNull();
    expect(await stores.blobs.exists(job.input.key)).toBe(false);
    expect(await filesContaining(dir, needles)).toEqual([]);
  });

  it('a deleted dead-lettered job leaves no trace in the queue\'s tables either', async () => {
    const id = randomUUID();
    const job = aJob({ id, state: 'dead-lettered', input: { key: `inputs/${id.slice(0, 2)}/${id}`, contentType: 'image/jpeg', bytes: 4 } });
    await stores.blobs.put(job.input.key, Buffer.from('jpeg'));
    await stores.jobs.create(job);
    await stores.queue.send({ jobId: id });
    // Received once (the budget), hidden for no time: the next receive moves it to the dead-letter queue.
    expect(await stores.queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 0 })).toHaveLength(1);
    await stores.queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 0 });
    expect(await stores.queue.deadLetterDepth()).toBe(1);

    await deleteJobData(stores, job);
    expect(await stores.queue.deadLetterDepth()).toBe(0);
    expect(await filesContaining(dir, { id: Buffer.from(id) })).toEqual([]);
  });

  /** Enrolls `name` (two faces) and `Kept`, checks the search finds them, then removes `name`. */
  async function enrollAndRemove(): Promise<{ name: string; descriptor: Buffer }> {
    const name = `Grace ${randomUUID().slice(0, 8)}`;
    const descriptor = aDescriptor(7);
    await stores.gallery.addFace(name, { descriptor, source: `${name}.jpg` });
    await stores.gallery.addFace(name, { descriptor: aDescriptor(8) });
    await stores.gallery.addFace('Kept', { descriptor: aDescriptor(9) });
    const bytes = Buffer.from(descriptor.buffer, descriptor.byteOffset, descriptor.byteLength);
    const before = await filesContaining(dir, { name: Buffer.from(name), descriptor: bytes });
    for (const label of ['name', 'descriptor']) expect(before.some((f) => f.endsWith(`: ${label}`))).toBe(true);
    expect(await stores.gallery.removeIdentity(name)).toBe(true);
    return { name, descriptor: bytes };
  }

  it('a removed identity leaves none of its descriptor bytes in any file', async () => {
    const { descriptor } = await enrollAndRemove();
    expect(await filesContaining(dir, { descriptor })).toEqual([]);
    expect(await filesContaining(dir, { kept: Buffer.from('Kept') })).not.toEqual([]);
  });

  it('a removed identity leaves its name in no file', async () => {
    const { name } = await enrollAndRemove();
    expect(await filesContaining(dir, { name: Buffer.from(name) })).toEqual([]);
  });

  it("a removed identity's enrollment image, enroll job and thumbnail go with it", async () => {
    const name = `Ada ${randomUUID().slice(0, 8)}`;
    const image = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(4096)]);
    const job = aJob({ kind: 'enroll', options: { topK: 3, threshold: 0.6, identity: name } });
    await stores.blobs.put(job.input.key, image);
    await stores.jobs.create(job);
    const face = await stores.gallery.addFace(name, { descriptor: aDescriptor(3), source: `job:${job.id}` });
    const thumb = randomBytes(2048);
    await stores.blobs.put(thumbnailKey(face.id), thumb);
    const faces = await stores.gallery.in('default').listFacesOf(name);
    const before = await filesContaining(dir, { image, thumb, id: Buffer.from(job.id) });
    for (const label of ['image', 'thumb', 'id']) expect(before.some((f) => f.endsWith(`: ${label}`))).toBe(true);

    // The job.done delivery announcing the enrollment: its body is the job's result, with the name.
    const delivery = aJob({ kind: 'webhook' });
    await stores.blobs.put(delivery.input.key, Buffer.from(JSON.stringify({ type: 'job.done', data: { jobId: job.id, result: { enrolled: { identity: name } } } })));
    await stores.jobs.create(delivery);
    const publisher = { deliveriesOf: async (r: { id: string }) => (r.id === job.id ? [{ delivery }] : []) };
    expect((await filesContaining(dir, { name: Buffer.from(name) })).length).toBeGreaterThan(0);

    expect(await stores.gallery.removeIdentity(name)).toBe(true);
    await forgetFaces({ ...stores, log: silentLogger(), publisher }, faces);
    expect(await stores.jobs.get(job.id)).toBeNull();
    expect(await stores.jobs.get(delivery.id)).toBeNull();
    expect(await filesContaining(dir, { image, thumb, id: Buffer.from(job.id), name: Buffer.from(name) })).toEqual([]);
  });
});
