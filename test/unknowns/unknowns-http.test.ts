/**
 * Unknown faces over HTTP with the real model's descriptors of the bbt crops: one web tier on
 * local stores and one in-process worker whose engine answers each image with what the real
 * engine found in it (analysed once, in beforeAll, so the worker's jobs cost no inference).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { loadEngine } from '../../src/recognition/engine.js';
import type { AnalyzedImage, Engine } from '../../src/recognition/types.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { aCluster, eventually } from '../helpers/builders.js';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { dataDir } from '../helpers/images.js';
import { filesUnder, jobIds, startHarness, type Harness } from '../web/harness.js';

const PEOPLE = ['amy', 'howard'] as const;
const images = new Map<string, Buffer>();
const analyses = new Map<string, AnalyzedImage>();
const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let h: Harness;
let worker: Worker;

beforeAll(async () => {
  const real = await loadEngine({ tfBackend: 'auto' });
  for (const p of PEOPLE) {
    for (let n = 1; n <= 5; n++) {
      const buf = await fs.readFile(dataDir('bbt', p, `${p}${n}.png`));
      images.set(`${p}${n}`, buf);
      analyses.set(hash(buf), await real.analyze(buf));
    }
  }
  await real.close();
  const engine: Engine = {
    backend: 'recorded',
    detector: 'recorded',
    async analyze(image) {
      const a = analyses.get(hash(image));
      if (!a) throw new Error('image not analysed in beforeAll');
      return a;
    },
    async close() {},
  };
  h = await startHarness({ tuning: { enrollWaitSeconds: 10 } });
  worker = createWorker({ config: loadConfig({ dataDir: h.dataDir, queueWait: 1, workerId: 'w-unknowns' }, {}), log: h.log, engine, runner: h.runner, ...h.stores });
  void worker.run();
  for (const [name, settings] of [['cam', { trackUnknowns: true }], ['quiet', {}], ['other', { trackUnknowns: true }]] as const) {
    expect((await postJson(`${h.url}/v1/collections`, { name, ...settings })).status).toBe(201);
  }
}, 300_000);
afterAll(async () => {
  await worker?.stop(2000);
  await h?.close();
});

async function recognize(collection: string, image: string) {
  const r = await uploadFile(`${h.url}/v1/jobs`, { data: images.get(image)!, type: 'image/png', filename: `${image}.png` }, { collection, wait: '10' });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  expect(r.json.state).toBe('done');
  return r.json.result.faces[0] as { match: { identity: string } | null; unknown?: { id: string; sightings: number; firstSeen: string } };
}

const unknownsUrl = (c: string) => `${h.url}/v1/collections/${c}/unknowns`;
const thumbnailFiles = async () => (await filesUnder(path.join(h.dataDir, 'blobs', 'unknowns'))).length;
const mode = (ids: string[]) => [...ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1])[0]!;
let amyId: string;
let howardId: string;

describe('unknown faces remembered', () => {
  it('five images of one stranger come back with the same unknown id at least 4 times in 5, counting sightings', async () => {
    const faces = [];
    for (let n = 1; n <= 5; n++) faces.push(await recognize('cam', `amy${n}`));
    for (const f of faces) expect(f.match).toBeNull();
    const ids = faces.map((f) => f.unknown?.id ?? 'none');
    const [id, count] = mode(ids);
    expect(count, ids.join(' ')).toBeGreaterThanOrEqual(4);
    expect(id).toMatch(/^unk_[a-z0-9]{20}$/);
    amyId = id;
    const last = faces.filter((f) => f.unknown?.id === id).at(-1)!;
    expect(last.unknown!.sightings).toBeGreaterThanOrEqual(count);
    // A face first given a cluster of its own counts in amy's once recluster merged that one in,
    // and its id then leads there. Once the worker's recluster has run, the counts agree.
    await eventually(async () => {
      let merged = 0;
      for (const other of new Set(ids.filter((x) => x !== id && x !== 'none'))) {
        const r = await fetch(`${unknownsUrl('cam')}/${other}`, { redirect: 'manual' });
        if (r.status === 308) merged += ids.filter((x) => x === other).length;
      }
      expect((await request(`${unknownsUrl('cam')}/${id}`)).json.sightings).toBe(count + merged);
    });
    expect(last.unknown!.firstSeen).toBe(faces.find((f) => f.unknown?.id === id)!.unknown!.firstSeen);
  });

  it('a second stranger gets a different id', async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 4; n++) ids.push((await recognize('cam', `howard${n}`)).unknown?.id ?? 'none');
    const [id, count] = mode(ids);
    expect(count, ids.join(' ')).toBeGreaterThanOrEqual(3);
    expect(id).not.toBe(amyId);
    howardId = id;
  });

  it('lists clusters with counts and thumbnail links, shows one with its sightings, and serves ~112 px JPEG thumbnails', async () => {
    const list = await request(`${unknownsUrl('cam')}?minSightings=3`);
    expect(list.status).toBe(200);
    const ids = list.json.items.map((c: { id: string }) => c.id);
    expect(ids).toEqual(expect.arrayContaining([amyId, howardId]));
    const amy = list.json.items.find((c: { id: string }) => c.id === amyId);
    expect(amy).toMatchObject({ state: 'open', collection: 'cam' });
    expect(amy.sightings).toBeGreaterThanOrEqual(4);
    expect(amy.links.thumbnails.length).toBeGreaterThan(0);
    expect(amy).not.toHaveProperty('representatives');
    const shown = await request(`${unknownsUrl('cam')}/${amyId}`);
    expect(shown.json.recent.length).toBe(amy.sightings);
    expect(shown.json.recent[0]).toMatchObject({ jobId: expect.any(String), box: { width: expect.any(Number) } });
    const thumb = await fetch(`${h.url}${amy.links.thumbnails[0]}`);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 112, 112]);
    const paged = await request(`${unknownsUrl('cam')}?limit=1`);
    expect(paged.json.items).toHaveLength(1);
    const next = await request(`${unknownsUrl('cam')}?limit=1&cursor=${paged.json.cursor}`);
    expect(next.json.items[0].id).not.toBe(paged.json.items[0].id);
    expect((await request(`${unknownsUrl('cam')}?since=2999-01-01T00:00:00Z`)).json.items).toEqual([]);
  });

  it('search answers "seen before?" with the nearest identities and clusters, and keeps nothing', async () => {
    const jobsBefore = (await jobIds(h.jobs)).size;
    const clustersBefore = JSON.stringify(await h.stores.gallery.unknowns('cam').list());
    const r = await uploadFile(`${h.url}/v1/collections/cam/search`, { data: images.get('amy3')!, type: 'image/png' }, { wait: '10' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const [f] = r.json.faces;
    expect(f.unknowns[0].id).toBe(amyId);
    expect(f.unknowns[0].distance).toBeLessThan(0.42);
    expect(f.unknowns.find((u: { id: string }) => u.id === howardId).distance).toBeGreaterThan(0.42);
    expect(f.identities).toEqual([]);
    expect((await jobIds(h.jobs)).size).toBe(jobsBefore);
    expect(JSON.stringify(await h.stores.gallery.unknowns('cam').list())).toBe(clustersBefore);
    expect(await filesUnder(path.join(h.dataDir, 'blobs', 'searches'))).toEqual([]);
  });

  it('an id merged away leads to the cluster it was merged into, through a second merge too', async () => {
    const store = h.stores.gallery.unknowns('cam');
    const [a, b, c] = [aCluster(41, { firstSeen: '2020-01-01T00:00:00.000Z' }), aCluster(42, { firstSeen: '2020-01-02T00:00:00.000Z' }), aCluster(43, { firstSeen: '2020-01-03T00:00:00.000Z' })];
    for (const x of [a, b, c]) await store.create(x);
    try {
      // Another collection's id space: a merged id of cam is not found through other.
      expect((await postJson(`${unknownsUrl('cam')}/merge`, { ids: [b.id, c.id] })).status).toBe(200);
      expect((await request(`${unknownsUrl('other')}/${c.id}`)).status).toBe(404);
      expect((await postJson(`${unknownsUrl('cam')}/merge`, { ids: [a.id, b.id] })).status).toBe(200);
      for (const gone of [b.id, c.id]) {
        const r = await fetch(`${unknownsUrl('cam')}/${gone}`, { redirect: 'manual' });
        expect(r.status, gone).toBe(308);
        expect(r.headers.get('location')).toBe(`/v1/collections/cam/unknowns/${a.id}`);
      }
      const followed = await request(`${unknownsUrl('cam')}/${c.id}`);
      expect(followed.json).toMatchObject({ id: a.id, sightings: 3 });
    } finally {
      for (const x of [a, b, c]) await store.delete(x.id);
    }
  });

  it('bad input is a clear 4xx and changes nothing', async () => {
    await h.stores.gallery.in('other').createIdentity('Zed');
    await h.stores.gallery.unknowns('other').create(aCluster(7, { id: 'unk_otherotherotherother' }));
    const snapshot = async () => JSON.stringify([await h.stores.gallery.unknowns('cam').list(), await h.stores.gallery.in('cam').listIdentities(), await thumbnailFiles()]);
    const before = await snapshot();
    const cases: Array<[string, Promise<{ status: number; json: { type?: string; title?: string; detail?: string } }>, number]> = [
      ['naming into another collection\'s identity', postJson(`${unknownsUrl('cam')}/${amyId}/name`, { identity: 'Zed' }), 404],
      ['naming into another collection', postJson(`${unknownsUrl('cam')}/${amyId}/name`, { identity: 'Zed', collection: 'other' }), 400],
      ['merging clusters of two collections', postJson(`${unknownsUrl('cam')}/merge`, { ids: [amyId, 'unk_otherotherotherother'] }), 404],
      ['merging one id with itself', postJson(`${unknownsUrl('cam')}/merge`, { ids: [amyId, amyId] }), 400],
      ['an unknown id', request(`${unknownsUrl('cam')}/unk_nosuchclusternosuchc`), 404],
      ['forgetting an unknown id', request(`${unknownsUrl('cam')}/unk_nosuchclusternosuchc`, { method: 'DELETE' }), 404],
      ['a malformed id', request(`${unknownsUrl('cam')}/not-a-cluster`, { method: 'DELETE' }), 400],
      ['minSightings=-1', request(`${unknownsUrl('cam')}?minSightings=-1`), 400],
      ['a thumbnail past the end', request(`${unknownsUrl('cam')}/${amyId}/thumbnails/99`), 404],
      ['retention of zero days', request(`${h.url}/v1/collections/cam`, { method: 'PATCH', body: JSON.stringify({ unknownRetentionDays: 0 }), headers: { 'content-type': 'application/json' } }), 400],
    ];
    for (const [what, pending, status] of cases) {
      const r = await pending;
      expect(r.status, what).toBe(status);
      expect(r.json.detail, what).toEqual(expect.any(String));
    }
    expect(await snapshot()).toBe(before);
    expect((await h.stores.gallery.unknowns('other').list()).length).toBe(1);
  });

  it('naming a cluster makes the next image of that person come back by name, and the cluster is gone', async () => {
    const named = await postJson(`${unknownsUrl('cam')}/${howardId}/name`, { identity: 'Howard', create: true });
    expect(named.status, JSON.stringify(named.json)).toBe(200);
    expect(named.json).toMatchObject({ id: howardId, state: 'named', identity: 'Howard' });
    // Nothing biometric stays on the named record: no representatives, no template.
    const stored = (await h.stores.gallery.unknowns('cam').get(howardId))!;
    expect([stored.representatives, stored.template]).toEqual([[], undefined]);
    const faces = await request(`${h.url}/v1/collections/cam/identities/Howard/faces`);
    expect(faces.json.items.length).toBeGreaterThan(0);
    const thumb = await fetch(`${h.url}/v1/collections/cam/identities/Howard/faces/${faces.json.items[0].id}/thumbnail`);
    expect(thumb.status).toBe(200);
    // Workers pick up gallery changes made elsewhere within their index check interval (250 ms).
    await new Promise((r) => setTimeout(r, 400));
    const next = await recognize('cam', 'howard5');
    expect(next.match?.identity, JSON.stringify(next)).toBe('Howard');
    expect(next.unknown).toBeUndefined();
    const list = await request(unknownsUrl('cam'));
    expect(list.json.items.map((c: { id: string }) => c.id)).not.toContain(howardId);
    const record = await request(`${unknownsUrl('cam')}/${howardId}`);
    expect(record.json).toMatchObject({ state: 'named', identity: 'Howard', links: { thumbnails: [] } });
    expect(record.json.recent).toEqual([]);
    expect((await postJson(`${unknownsUrl('cam')}/${howardId}/name`, { identity: 'Howard' })).status).toBe(409);
  });

  it('with tracking off, no cluster, thumbnail or sighting is stored for any unknown face; turning it on starts tracking', async () => {
    const thumbs = await thumbnailFiles();
    for (const img of ['amy1', 'howard2']) {
      const f = await recognize('quiet', img);
      expect(f.match).toBeNull();
      expect(f.unknown).toBeUndefined();
    }
    expect(await h.stores.gallery.unknowns('quiet').list()).toEqual([]);
    expect(await thumbnailFiles()).toBe(thumbs);
    expect((await request(unknownsUrl('quiet'))).json.items).toEqual([]);
    const on = await request(`${h.url}/v1/collections/quiet`, { method: 'PATCH', body: JSON.stringify({ trackUnknowns: true }), headers: { 'content-type': 'application/json' } });
    expect(on.json).toMatchObject({ trackUnknowns: true, unknownRetentionDays: 30 });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await recognize('quiet', 'amy2')).unknown?.id).toMatch(/^unk_/);
  });

  it('POST .../recluster queues a recluster job the worker runs; deleting a collection deletes its clusters and thumbnails', async () => {
    const r = await request(`${unknownsUrl('cam')}/recluster`, { method: 'POST' });
    expect(r.status).toBe(202);
    const job = await request(`${h.url}${r.json.links.self}?wait=10`);
    expect(job.json).toMatchObject({ kind: 'recluster', state: 'done', result: { recluster: { merged: expect.any(Number), clusters: expect.any(Number) } } });
    const keys = (await h.stores.gallery.unknowns('quiet').list()).flatMap((c) => c.representatives.map((rep) => rep.id));
    expect(keys.length).toBeGreaterThan(0);
    const before = await thumbnailFiles();
    expect((await request(`${h.url}/v1/collections/quiet`, { method: 'DELETE' })).status).toBe(204);
    expect(await thumbnailFiles()).toBe(before - keys.length);
    expect(await h.stores.gallery.unknowns('quiet').list()).toEqual([]);
  });
});
