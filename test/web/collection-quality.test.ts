/**
 * Quality settings over HTTP: a collection's minQuality and minEnrollQuality (POST, PATCH), the
 * job options they become, a request's own minQuality and landmarks, force on enrollment, and a
 * low-quality refusal answered as 422. No worker runs: the test finishes the jobs itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIN_ENROLL_QUALITY, DEFAULT_MIN_QUALITY } from '../../src/recognition/quality.js';
import { createApiKey } from '../../src/web/keys.js';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { finishJob, jobIds, newQueuedJob, startWithAuth, type Harness } from './harness.js';

let h: Harness;
let jpeg: Buffer;
let operator: string;
let client: string;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const patch = (path: string, body: unknown, key = operator) =>
  request(`${h.url}${path}`, { method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...bearer(key) } });

beforeAll(async () => {
  h = await startWithAuth({ tuning: { enrollWaitSeconds: 5 } }, async (keys) => {
    operator = (await createApiKey(keys, { role: 'operator' })).key;
    client = (await createApiKey(keys, { role: 'client' })).key;
  });
  jpeg = await validJpeg();
});
afterAll(async () => {
  await h?.close();
});

/** Submit with `submit`, and return the job it queued (left queued: nobody waits on it). */
async function queued(submit: () => Promise<{ status: number }>) {
  const known = await jobIds(h.jobs);
  const res = await submit();
  expect(res.status).toBe(202);
  return newQueuedJob(h.jobs, known);
}

describe('quality settings over HTTP', () => {
  it('creates a collection with quality gates, changes and clears them with PATCH, and refuses bad values', async () => {
    const made = await postJson(`${h.url}/v1/collections`, { name: 'gates', minQuality: 0.3, minEnrollQuality: 0.6 }, bearer(operator));
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ name: 'gates', minQuality: 0.3, minEnrollQuality: 0.6 });
    for (const [body, code] of [
      [{ name: 'bad', minQuality: 1.5 }, 'bad-min-quality'],
      [{ name: 'bad', minEnrollQuality: '0.5' }, 'bad-min-enroll-quality'],
    ] as const) {
      const res = await postJson(`${h.url}/v1/collections`, body, bearer(operator));
      expect(res.status).toBe(400);
      expect(res.json.type).toMatch(new RegExp(`${code}$`));
    }
    expect((await request(`${h.url}/v1/collections/bad`, { headers: bearer(operator) })).status).toBe(404);

    const changed = await patch('/v1/collections/gates', { minEnrollQuality: 0.5, minQuality: null });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ name: 'gates', minEnrollQuality: 0.5 });
    expect(changed.json.minQuality).toBeUndefined();
    expect((await request(`${h.url}/v1/collections/gates`, { headers: bearer(operator) })).json.minEnrollQuality).toBe(0.5);
    const before = (await request(`${h.url}/v1/collections/gates`, { headers: bearer(operator) })).json;
    for (const [body, code] of [
      [{ minQuality: -0.1 }, 'bad-min-quality'],
      [{ colour: 'red' }, 'bad-body'],
      [[0.3], 'bad-body'],
    ] as const) {
      const res = await patch('/v1/collections/gates', body);
      expect(res.status).toBe(400);
      expect(res.json.type).toMatch(new RegExp(`${code}$`));
    }
    expect((await request(`${h.url}/v1/collections/gates`, { headers: bearer(operator) })).json).toEqual(before);
    expect((await patch('/v1/collections/absent', { minQuality: 0.2 })).status).toBe(404);
    expect((await patch('/v1/collections/gates', { minQuality: 0.2 }, client)).status).toBe(403);
  });

  it('gives recognition jobs the collection minQuality, a request its own, and landmarks=68 when asked', async () => {
    await patch('/v1/collections/gates', { minQuality: 0.3 });
    const byDefault = await queued(() => uploadFile(`${h.url}/v1/jobs?collection=gates`, { data: jpeg }, {}, bearer(operator)));
    expect(byDefault.options).toMatchObject({ minQuality: 0.3 });
    expect(byDefault.options.landmarks).toBeUndefined();
    const own = await queued(() => uploadFile(`${h.url}/v1/jobs?collection=gates`, { data: jpeg }, { minQuality: '0.1', landmarks: '68' }, bearer(operator)));
    expect(own.options).toMatchObject({ minQuality: 0.1, landmarks: 68 });
    const plain = await queued(() => uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, bearer(operator)));
    expect(plain.options.minQuality).toBe(DEFAULT_MIN_QUALITY);

    const known = await jobIds(h.jobs);
    for (const [fields, code] of [
      [{ landmarks: '12' }, 'bad-landmarks'],
      [{ minQuality: '2' }, 'bad-min-quality'],
    ] as const) {
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, fields, bearer(operator));
      expect(res.status).toBe(400);
      expect(res.json.type).toMatch(new RegExp(`${code}$`));
    }
    // A client key may raise the minimum but not lower it below the collection's.
    const lowered = await uploadFile(`${h.url}/v1/jobs?collection=gates`, { data: jpeg }, { minQuality: '0.1' }, bearer(client));
    expect(lowered.status).toBe(400);
    expect(lowered.json.type).toMatch(/min-quality-below-default$/);
    expect(await jobIds(h.jobs)).toEqual(known);
    const raised = await queued(() => uploadFile(`${h.url}/v1/jobs?collection=gates`, { data: jpeg }, { minQuality: '0.5' }, bearer(client)));
    expect(raised.options.minQuality).toBe(0.5);
  });

  it('enrolls under the collection minEnrollQuality, passes force on, and answers a low-quality refusal with 422', async () => {
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/v1/collections/gates/identities/Blur/faces?create=true`, { data: jpeg }, {}, bearer(operator));
    const job = await newQueuedJob(h.jobs, known);
    expect(job.options).toMatchObject({ minEnrollQuality: 0.5, identity: 'Blur' });
    expect(job.options.force).toBeUndefined();
    const quality = { sharpness: 0.2, brightness: 0.5, size: 90, score: 0.1 };
    await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [], refused: { reason: 'too-blurry', faces: 1, message: 'blurred', quality, minEnrollQuality: 0.5 }, collection: 'gates' });
    const res = await pending;
    expect(res.status).toBe(422);
    expect(res.json.type).toMatch(/low-quality$/);
    expect(res.json).toMatchObject({ reason: 'too-blurry', faces: 1, quality, minEnrollQuality: 0.5, jobId: job.id });
    expect(await h.stores.gallery.in('gates').getIdentity('Blur')).toBeNull();

    const forced = await queued(() => uploadFile(`${h.url}/v1/collections/gates/identities/Blur/faces?create=true`, { data: jpeg }, { force: 'true', wait: '0' }, bearer(operator)));
    expect(forced.options).toMatchObject({ force: true, minEnrollQuality: 0.5 });
    const legacy = await queued(() => uploadFile(`${h.url}/v1/identities/Old/faces`, { data: jpeg }, { wait: '0' }, bearer(operator)));
    expect(legacy.options.minEnrollQuality).toBe(DEFAULT_MIN_ENROLL_QUALITY);
  });
});
