import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputKey } from '../../src/web/submit.js';
import { request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { face, finishJob, startHarness, startWithAuth, type Harness } from './harness.js';
import { createApiKey } from '../../src/web/keys.js';

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await validJpeg();
});

async function drainQueue(h: Harness): Promise<void> {
  for (const m of await h.queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 60 })) await h.queue.delete(m.receipt);
}

describe('DELETE /v1/jobs/:id (auth off: every caller is an operator)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('deletes the input, the result and the record, and answers 204; then the job is 404', async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    const id = sub.json.id as string;
    await finishJob(h.runner, id, { width: 64, height: 64, faces: [face(20, 'Paul')] });
    expect(await h.blobs.exists(inputKey(id))).toBe(true);

    const res = await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await h.jobs.get(id)).toBeNull();
    expect(await h.blobs.exists(inputKey(id))).toBe(false);
    expect((await request(`${h.url}/v1/jobs/${id}`)).status).toBe(404);
    // Deleting again: there is nothing to delete.
    expect((await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE' })).status).toBe(404);
    await drainQueue(h);
  });

  it('answers 400 for a malformed id and changes nothing', async () => {
    const res = await request(`${h.url}/v1/jobs/not-a-uuid`, { method: 'DELETE' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('a long-poll waiting on a job answers 404 once the job is deleted', async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    const id = sub.json.id as string;
    const started = Date.now();
    const waiting = request(`${h.url}/v1/jobs/${id}?wait=20`);
    await new Promise((r) => setTimeout(r, 200));
    expect((await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE' })).status).toBe(204);
    const res = await waiting;
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ status: 404 });
    expect(Date.now() - started).toBeLessThan(10_000);
    await drainQueue(h);
  });
});

describe('DELETE /v1/jobs/:id with auth on', () => {
  let h: Harness;
  let clientKey: string;
  let otherClientKey: string;
  let operatorKey: string;
  beforeAll(async () => {
    h = await startWithAuth({}, async (keys) => {
      clientKey = (await createApiKey(keys, { role: 'client' })).key;
      otherClientKey = (await createApiKey(keys, { role: 'client' })).key;
      operatorKey = (await createApiKey(keys, { role: 'operator' })).key;
    });
  });
  afterAll(async () => {
    await h?.close();
  });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it("refuses another client's key (404, as on GET) and keeps the job; the owner deletes it", async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, bearer(clientKey));
    expect(sub.status).toBe(202);
    const id = sub.json.id as string;
    const refused = await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE', headers: bearer(otherClientKey) });
    expect(refused.status).toBe(404);
    expect(await h.jobs.get(id)).not.toBeNull();
    expect(await h.blobs.exists(inputKey(id))).toBe(true);
    expect((await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE' })).status).toBe(401);
    const res = await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE', headers: bearer(clientKey) });
    expect(res.status).toBe(204);
    expect(await h.jobs.get(id)).toBeNull();
    await drainQueue(h);
  });

  it("an operator key deletes any client's job", async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, bearer(clientKey));
    expect(sub.status).toBe(202);
    const id = sub.json.id as string;
    const res = await request(`${h.url}/v1/jobs/${id}`, { method: 'DELETE', headers: bearer(operatorKey) });
    expect(res.status).toBe(204);
    expect(await h.jobs.get(id)).toBeNull();
    expect(await h.blobs.exists(inputKey(id))).toBe(false);
    await drainQueue(h);
  });
});
