import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { failJob, finishJob, jobIds, newQueuedJob, startHarness, type Harness } from './harness.js';

let h: Harness;
let jpeg: Buffer;

beforeAll(async () => {
  h = await startHarness({ tuning: { enrollWaitSeconds: 5 } });
  jpeg = await validJpeg();
});
afterAll(async () => {
  await h?.close();
});

describe('identities', () => {
  it('create, get, list, delete', async () => {
    const created = await postJson(`${h.url}/v1/identities`, { name: "Mary O'Neil-Smith" });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: "Mary O'Neil-Smith", faceCount: 0 });
    expect(created.headers.get('location')).toBe(`/v1/identities/${encodeURIComponent("Mary O'Neil-Smith")}`);
    expect((await postJson(`${h.url}/v1/identities`, { name: "Mary O'Neil-Smith" })).status).toBe(409);

    const got = await request(`${h.url}/v1/identities/${encodeURIComponent("Mary O'Neil-Smith")}`);
    expect(got.json.name).toBe("Mary O'Neil-Smith");
    const list = await request(`${h.url}/v1/identities`);
    expect(list.json.items.map((i: { name: string }) => i.name)).toContain("Mary O'Neil-Smith");

    const del = await request(`${h.url}/v1/identities/${encodeURIComponent("Mary O'Neil-Smith")}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect((await request(`${h.url}/v1/identities/${encodeURIComponent("Mary O'Neil-Smith")}`, { method: 'DELETE' })).status).toBe(404);
    expect((await request(`${h.url}/v1/identities/Nobody`)).status).toBe(404);
  });

  it('rejects bad names and bodies with 400/415', async () => {
    for (const name of ['', 'x'.repeat(65), 'semi;colon', 'new\nline', '   ', 42, null]) {
      const res = await postJson(`${h.url}/v1/identities`, { name });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(res.json.type).toContain('bad-identity-name');
    }
    const notJson = await request(`${h.url}/v1/identities`, { method: 'POST', body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(notJson.status).toBe(415);
    const broken = await request(`${h.url}/v1/identities`, { method: 'POST', body: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(broken.headers.get('content-type')).toMatch(/problem\+json/);
    const array = await postJson(`${h.url}/v1/identities`, ['x']);
    expect(array.status).toBe(400);
  });

  it('enrolls a face through an enroll job and answers 201 when it is done', async () => {
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/v1/identities/Leonard/faces`, { data: jpeg, filename: 'leonard1.jpg' }, { largest: 'true' });
    const job = await newQueuedJob(h.jobs, known);
    expect(job.kind).toBe('enroll');
    expect(job.options).toMatchObject({ identity: 'Leonard', largest: true });
    await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [], enrolled: { identity: 'Leonard', faceId: 'face-1' } });
    const res = await pending;
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ identity: 'Leonard', faceId: 'face-1', jobId: job.id });
  });

  it('answers 422 when the enroll job finds no face or several', async () => {
    for (const code of ['no-face', 'multiple-faces']) {
      const known = await jobIds(h.jobs);
      const pending = uploadFile(`${h.url}/v1/identities/Penny/faces`, { data: jpeg });
      const job = await newQueuedJob(h.jobs, known);
      await failJob(h.runner, job.id, code, `enroll: ${code}`);
      const res = await pending;
      expect(res.status).toBe(422);
      expect(res.json).toMatchObject({ type: expect.stringContaining(code), jobId: job.id });
    }
  });

  it('answers 422 for an enroll job that ended done with a refusal, naming the reason and the face count', async () => {
    for (const [reason, code, faces] of [['no-face', 'no-face', 0], ['several-faces', 'multiple-faces', 3]] as const) {
      const known = await jobIds(h.jobs);
      const pending = uploadFile(`${h.url}/v1/identities/Penny/faces`, { data: jpeg });
      const job = await newQueuedJob(h.jobs, known);
      await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [], refused: { reason, faces, message: `refused: ${reason}` } });
      const res = await pending;
      expect(res.status).toBe(422);
      expect(res.json).toMatchObject({ type: expect.stringContaining(code), jobId: job.id, reason, faces });
      expect((await h.jobs.get(job.id))?.state).toBe('done');
    }
  });

  it('answers 202 with the job link when the enroll job is still running after the wait', async () => {
    const res = await uploadFile(`${h.url}/v1/identities/Howard/faces?wait=0.1`, { data: jpeg });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.json.id}`);
  });

  it('checks the name before reading the upload', async () => {
    const res = await uploadFile(`${h.url}/v1/identities/${encodeURIComponent('bad/name;')}/faces`, { data: jpeg });
    expect(res.status).toBe(400);
  });
});

describe('operators', () => {
  it('lists dead letters with filters and paging, and replays by id, reason and all', async () => {
    const ids: string[] = [];
    for (const code of ['engine', 'engine', 'store-permanent']) {
      const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
      ids.push(sub.json.id);
      await failJob(h.runner, sub.json.id, code, `boom ${code}`);
    }
    const all = await request(`${h.url}/v1/dead-letters`);
    expect(all.status).toBe(200);
    for (const id of ids) expect(all.json.items.map((d: { id: string }) => d.id)).toContain(id);

    const page1 = await request(`${h.url}/v1/dead-letters?limit=1`);
    expect(page1.json.items).toHaveLength(1);
    expect(page1.json.cursor).toBeTruthy();
    const page2 = await request(`${h.url}/v1/dead-letters?limit=1&cursor=${encodeURIComponent(page1.json.cursor)}`);
    expect(page2.json.items[0].id).not.toBe(page1.json.items[0].id);

    expect((await request(`${h.url}/v1/dead-letters?since=yesterday`)).status).toBe(400);
    const future = await request(`${h.url}/v1/dead-letters?since=2999-01-01T00:00:00Z`);
    expect(future.json.items).toEqual([]);

    const one = await postJson(`${h.url}/v1/dead-letters/replay`, { ids: [ids[0]] });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ matched: 1, replayed: 1 });
    expect((await h.jobs.get(ids[0]))?.state).toBe('queued');

    const again = await postJson(`${h.url}/v1/dead-letters/replay`, { ids: [ids[0]] });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ state: 'queued', jobId: ids[0] });
    expect((await postJson(`${h.url}/v1/dead-letters/replay`, { ids: ['00000000-0000-4000-8000-000000000000'] })).status).toBe(404);

    const byReason = await postJson(`${h.url}/v1/dead-letters/replay`, { reason: 'store-permanent' });
    expect(byReason.status).toBe(200);
    expect((await h.jobs.get(ids[2]))?.state).toBe('queued');
    expect((await h.jobs.get(ids[1]))?.state).toBe('dead-lettered');

    const rest = await postJson(`${h.url}/v1/dead-letters/replay`, { all: true });
    expect(rest.json.replayed).toBeGreaterThanOrEqual(1);
    expect((await h.jobs.get(ids[1]))?.state).toBe('queued');

    for (const body of [{}, { ids: [] }, { ids: ['x'] }, { all: false }, { reason: '' }, { ids: [ids[0]], all: true }, 'x']) {
      expect((await postJson(`${h.url}/v1/dead-letters/replay`, body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('lists jobs by state with cursor paging', async () => {
    const res = await request(`${h.url}/v1/jobs?state=queued&limit=2`);
    expect(res.status).toBe(200);
    expect(res.json.items).toHaveLength(2);
    expect(res.json.items.every((j: { state: string }) => j.state === 'queued')).toBe(true);
    const next = await request(`${h.url}/v1/jobs?state=queued&limit=2&cursor=${encodeURIComponent(res.json.cursor)}`);
    expect(next.json.items[0].id).not.toBe(res.json.items[0].id);
    expect((await request(`${h.url}/v1/jobs?state=weird`)).status).toBe(400);
    expect((await request(`${h.url}/v1/jobs`)).status).toBe(400);
  });
});
