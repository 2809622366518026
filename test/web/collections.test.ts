import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/web/keys.js';
import { aDescriptor } from '../helpers/builders.js';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { finishJob, jobIds, newQueuedJob, startWithAuth, type Harness } from './harness.js';

let h: Harness;
let jpeg: Buffer;
let operatorKey: string;
let scopedOperator: string;
let clientA: string;
let clientOther: string;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const json = (key: string) => ({ ...bearer(key) });

beforeAll(async () => {
  h = await startWithAuth({ tuning: { enrollWaitSeconds: 5 } }, async (keys) => {
    operatorKey = (await createApiKey(keys, { role: 'operator' })).key;
    scopedOperator = (await createApiKey(keys, { role: 'operator', collections: ['site-a'] })).key;
    clientA = (await createApiKey(keys, { role: 'client', collections: ['site-a'] })).key;
    clientOther = (await createApiKey(keys, { role: 'client' })).key;
  });
  jpeg = await validJpeg();
});
afterAll(async () => {
  await h?.close();
});

async function collections(): Promise<string[]> {
  return (await request(`${h.url}/v1/collections`, { headers: bearer(operatorKey) })).json.items.map((c: { name: string }) => c.name);
}

describe('collections over HTTP', () => {
  it('creates (201, then 409), shows with counts, lists, and deletes everything in a collection', async () => {
    const made = await postJson(`${h.url}/v1/collections`, { name: 'site-a', threshold: 0.5 }, json(operatorKey));
    expect(made.status).toBe(201);
    expect(made.headers.get('location')).toBe('/v1/collections/site-a');
    expect(made.json).toMatchObject({ name: 'site-a', threshold: 0.5, identityCount: 0, faceCount: 0 });
    expect((await postJson(`${h.url}/v1/collections`, { name: 'site-a' }, json(operatorKey))).status).toBe(409);
    expect((await postJson(`${h.url}/v1/collections`, { name: 'site-b' }, json(operatorKey))).status).toBe(201);
    await h.stores.gallery.in('site-b').addFace('Zed', { descriptor: aDescriptor(1) });
    const shown = await request(`${h.url}/v1/collections/site-b`, { headers: bearer(operatorKey) });
    expect(shown.json).toMatchObject({ name: 'site-b', identityCount: 1, faceCount: 1 });
    expect(await collections()).toEqual(['default', 'site-a', 'site-b']);

    const ident = await postJson(`${h.url}/v1/collections/site-b/identities`, { name: 'Ann' }, json(operatorKey));
    expect(ident.status).toBe(201);
    expect((await postJson(`${h.url}/v1/collections/site-b/identities`, { name: 'Ann' }, json(operatorKey))).status).toBe(409);
    const list = await request(`${h.url}/v1/collections/site-b/identities`, { headers: bearer(operatorKey) });
    expect(list.json.items.map((i: { name: string }) => i.name)).toEqual(['Ann', 'Zed']);
    const faces = await request(`${h.url}/v1/collections/site-b/identities/Zed/faces`, { headers: bearer(operatorKey) });
    expect(faces.json.items).toHaveLength(1);
    expect(faces.json.items[0]).not.toHaveProperty('descriptor');
    const faceId = faces.json.items[0].id as string;
    expect((await request(`${h.url}/v1/collections/site-b/identities/Zed/faces/${faceId}`, { method: 'DELETE', headers: bearer(operatorKey) })).status).toBe(204);
    expect((await request(`${h.url}/v1/collections/site-b/identities/Zed/faces/${faceId}`, { method: 'DELETE', headers: bearer(operatorKey) })).status).toBe(404);
    expect((await request(`${h.url}/v1/collections/site-b/identities/Ann`, { method: 'DELETE', headers: bearer(operatorKey) })).status).toBe(204);

    expect((await request(`${h.url}/v1/collections/site-b`, { method: 'DELETE', headers: bearer(operatorKey) })).status).toBe(204);
    expect((await request(`${h.url}/v1/collections/site-b`, { headers: bearer(operatorKey) })).status).toBe(404);
    expect((await request(`${h.url}/v1/collections/site-b`, { method: 'DELETE', headers: bearer(operatorKey) })).status).toBe(404);
    expect(await h.stores.gallery.in('site-b').listFaces()).toEqual([]);
  });

  it('refuses bad names, thresholds and deleting default with a 4xx, changing nothing', async () => {
    const before = await collections();
    for (const name of ['', 'x'.repeat(10 * 1024), '../x', 'a\u0000b', '<b>x</b>', 'a b', '.hidden', 42, null]) {
      const res = await postJson(`${h.url}/v1/collections`, { name }, json(operatorKey));
      expect(res.status, JSON.stringify(name).slice(0, 40)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    }
    for (const threshold of ['NaN', 'nan', -0.1, 0, 2.01, '0.5', true]) {
      const res = await postJson(`${h.url}/v1/collections`, { name: 'thresholds', threshold }, json(operatorKey));
      expect(res.status, String(threshold)).toBe(400);
      expect(res.json.type).toContain('bad-threshold');
    }
    const bad = await request(`${h.url}/v1/collections`, { method: 'POST', body: '{"name":"t","threshold":NaN}', headers: { ...bearer(operatorKey), 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    const del = await request(`${h.url}/v1/collections/default`, { method: 'DELETE', headers: bearer(operatorKey) });
    expect(del.status).toBe(409);
    for (const path of ['..%2Fx', '%3Cb%3E', 'a%00b']) {
      expect((await request(`${h.url}/v1/collections/${path}`, { headers: bearer(operatorKey) })).status).toBe(400);
    }
    expect((await request(`${h.url}/v1/collections/nope`, { headers: bearer(operatorKey) })).status).toBe(404);
    expect((await request(`${h.url}/v1/collections/nope/identities`, { headers: bearer(operatorKey) })).status).toBe(404);
    expect(await collections()).toEqual(before);
  });

  it('jobs: the collection is a field or query; unknown is 404 and bad is 400 at submit, with nothing stored', async () => {
    const known = await jobIds(h.jobs);
    expect((await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { collection: 'missing' }, bearer(operatorKey))).status).toBe(404);
    expect((await uploadFile(`${h.url}/v1/jobs?collection=missing`, { data: jpeg }, {}, bearer(operatorKey))).status).toBe(404);
    expect((await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { collection: '../x' }, bearer(operatorKey))).status).toBe(400);
    expect((await uploadFile(`${h.url}/?collection=missing`, { field: 'inputFile', data: jpeg }, {}, bearer(operatorKey))).status).toBe(404);
    expect(await jobIds(h.jobs)).toEqual(known);

    const accepted = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { collection: 'site-a' }, bearer(clientA));
    expect(accepted.status).toBe(202);
    const job = await h.jobs.get(accepted.json.id);
    // The collection's own threshold applies when the request names none.
    expect(job?.options).toMatchObject({ collection: 'site-a', threshold: 0.5 });
  });

  it('scopes keys to collections, and jobs to the key that submitted them', async () => {
    expect((await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, bearer(clientA))).status).toBe(403);
    expect((await uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg }, {}, bearer(clientA))).status).toBe(403);
    expect((await request(`${h.url}/v1/identities`, { headers: bearer(scopedOperator) })).status).toBe(403);
    expect((await request(`${h.url}/v1/collections/default`, { headers: bearer(scopedOperator) })).status).toBe(403);
    expect((await request(`${h.url}/v1/collections/site-a`, { headers: bearer(scopedOperator) })).status).toBe(200);
    const seen = (await request(`${h.url}/v1/collections`, { headers: bearer(scopedOperator) })).json.items.map((c: { name: string }) => c.name);
    expect(seen).toEqual(['site-a']);

    const mine = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { collection: 'site-a' }, bearer(clientA));
    expect((await request(`${h.url}/v1/jobs/${mine.json.id}`, { headers: bearer(clientA) })).status).toBe(200);
    expect((await request(`${h.url}/v1/jobs/${mine.json.id}`, { headers: bearer(clientOther) })).status).toBe(404);
    expect((await request(`${h.url}/v1/jobs/${mine.json.id}`, { headers: bearer(operatorKey) })).status).toBe(200);
    const theirs = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, bearer(clientOther));
    expect((await request(`${h.url}/v1/jobs/${theirs.json.id}`, { headers: bearer(clientA) })).status).toBe(404);
    // An operator scoped to site-a may not read a default-collection job.
    expect((await request(`${h.url}/v1/jobs/${theirs.json.id}`, { headers: bearer(scopedOperator) })).status).toBe(403);
  });

  it('enrolls into an existing identity, 404 for a missing one unless create=true', async () => {
    const missing = await uploadFile(`${h.url}/v1/collections/site-a/identities/Nobody/faces`, { data: jpeg }, {}, bearer(operatorKey));
    expect(missing.status).toBe(404);
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/v1/collections/site-a/identities/Newt/faces?create=true`, { data: jpeg }, {}, bearer(operatorKey));
    const job = await newQueuedJob(h.jobs, known);
    expect(job.options).toMatchObject({ collection: 'site-a', identity: 'Newt' });
    const face = await h.stores.gallery.in('site-a').addFace('Newt', { descriptor: aDescriptor(5) });
    await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [], enrolled: { identity: 'Newt', faceId: face.id }, collection: 'site-a' });
    const res = await pending;
    expect(res.status).toBe(201);
    expect(res.json.face).toMatchObject({ id: face.id, identity: 'Newt', collection: 'site-a' });
  });

  it('answers a refused enrollment (several faces) with 422, and makes no identity', async () => {
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/v1/collections/site-a/identities/Crowd/faces?create=true`, { data: jpeg }, {}, bearer(operatorKey));
    const job = await newQueuedJob(h.jobs, known);
    await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [], refused: { reason: 'several-faces', faces: 3, message: 'several faces' }, collection: 'site-a' });
    const res = await pending;
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ reason: 'several-faces', faces: 3 });
    expect(res.json.type).toMatch(/multiple-faces$/);
    expect(await h.stores.gallery.in('site-a').getIdentity('Crowd')).toBeNull();
  });
});
