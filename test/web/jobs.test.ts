import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobView } from '../../src/jobs/view.js';
import { inputKey } from '../../src/web/submit.js';
import { DEFAULT_MIN_QUALITY } from '../../src/recognition/quality.js';
import { request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { allJobs, face, failJob, finishJob, jobIds, newQueuedJob, startHarness, type Harness } from './harness.js';

let h: Harness;
let jpeg: Buffer;

beforeAll(async () => {
  h = await startHarness({ web: { classicTimeoutSeconds: 1 } });
  jpeg = await validJpeg();
});
afterAll(async () => {
  await h?.close();
});

async function drainQueue(): Promise<string[]> {
  const got = await h.queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 60 });
  for (const m of got) await h.queue.delete(m.receipt);
  return got.map((m) => m.body.jobId);
}

describe('POST /v1/jobs', () => {
  it('answers 202 only once the blob, the queued job and its message are stored', async () => {
    const res = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg, filename: 'me.jpg' });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    expect(res.json).toEqual({ id, state: 'queued', links: { self: `/v1/jobs/${id}` } });
    expect(res.headers.get('location')).toBe(`/v1/jobs/${id}`);
    expect(res.headers.get('x-request-id')).toBeTruthy();

    const record = await h.jobs.get(id);
    expect(record?.state).toBe('queued');
    expect(record?.kind).toBe('recognize');
    expect(record?.input).toMatchObject({ key: inputKey(id), contentType: 'image/jpeg', bytes: jpeg.length, filename: 'me.jpg' });
    expect(record?.options).toEqual({ topK: h.config.recognition.topK, threshold: h.config.recognition.threshold, margin: h.config.recognition.margin, minQuality: DEFAULT_MIN_QUALITY });
    expect(Buffer.compare(await h.blobs.get(inputKey(id)), jpeg)).toBe(0);
    expect(await drainQueue()).toEqual([id]);
  });

  it('keeps the validated topK, threshold and margin on the job', async () => {
    const res = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { topK: '5', threshold: '0.45', margin: '0' });
    expect(res.status).toBe(202);
    expect((await h.jobs.get(res.json.id))?.options).toEqual({ topK: 5, threshold: 0.45, margin: 0, minQuality: DEFAULT_MIN_QUALITY });
    await drainQueue();
  });

  it('with wait, answers 202 when the job does not finish in time', async () => {
    const started = Date.now();
    const res = await uploadFile(`${h.url}/v1/jobs?wait=0.3`, { data: jpeg });
    expect(res.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect((await h.jobs.get(res.json.id))?.state).toBe('queued');
    await drainQueue();
  });

  it('with wait, answers 200 with the finished job when a worker finishes it in time', async () => {
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { wait: '10' });
    const job = await newQueuedJob(h.jobs, known);
    const result = { width: 64, height: 64, faces: [face(20, 'Paul')] };
    await finishJob(h.runner, job.id, result);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: job.id, state: 'done', kind: 'recognize', result });
    expect(res.json).toEqual(JSON.parse(JSON.stringify(jobView((await h.jobs.get(job.id))!))));
    await drainQueue();
  });
});

describe('GET /v1/jobs/:id', () => {
  it('returns the job view, 404 for an unknown id and 400 for a malformed one', async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    const res = await request(`${h.url}/v1/jobs/${sub.json.id}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: sub.json.id, state: 'queued', attempts: 0 });
    expect(res.json.history.length).toBeGreaterThan(0);

    const missing = await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const bad = await request(`${h.url}/v1/jobs/not-a-uuid`);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ status: 400, type: expect.stringContaining('bad-job-id'), requestId: bad.headers.get('x-request-id') });
    await drainQueue();
  });

  it('long-polls until the job is terminal', async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    const id = sub.json.id as string;
    const poll = request(`${h.url}/v1/jobs/${id}?wait=10`);
    await new Promise((r) => setTimeout(r, 100));
    await failJob(h.runner, id, 'not-an-image', 'no');
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id, state: 'dead-lettered', error: { code: 'not-an-image' } });
    await drainQueue();
  });

  it('long-poll returns the current state when the wait runs out', async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    const res = await request(`${h.url}/v1/jobs/${sub.json.id}?wait=0.2`);
    expect(res.status).toBe(200);
    expect(res.json.state).toBe('queued');
    await drainQueue();
  });

  it('stops a long-poll when the client hangs up, and counts it as 499', async () => {
    const sub = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    const abort = new AbortController();
    const poll = fetch(`${h.url}/v1/jobs/${sub.json.id}?wait=30`, { signal: abort.signal }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 100));
    abort.abort();
    expect(await poll).toBeInstanceOf(Error);
    const deadline = Date.now() + 5_000;
    let text = '';
    while (Date.now() < deadline && !/route="\/v1\/jobs\/:id",method="GET",status="499"\} 1/.test(text)) {
      text = (await request(`${h.url}/metrics`)).text;
    }
    expect(text).toMatch(/facefleet_http_requests_total\{route="\/v1\/jobs\/:id",method="GET",status="499"\} 1/);
    await drainQueue();
  });

  it('echoes a sane x-request-id and replaces an insane one', async () => {
    const ok = await request(`${h.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers.get('x-request-id')).toBe('abc-123');
    const bad = await request(`${h.url}/v1/jobs/nope`, { headers: { 'x-request-id': 'a b <script>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(bad.json.requestId).toBe(bad.headers.get('x-request-id'));
  });
});

describe('POST / (classic protocol)', () => {
  it('answers <basename>:<largest face identity>', async () => {
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg, filename: 'test_000.jpg' });
    const job = await newQueuedJob(h.jobs, known);
    await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [face(10, 'Sheldon'), face(30, 'Paul'), face(20, null)] });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toBe('test_000:Paul');
    await drainQueue();
  });

  it('answers unknown and no-face', async () => {
    for (const [faces, name] of [
      [[face(30, null), face(10, 'Paul')], 'unknown'],
      [[], 'no-face'],
    ] as const) {
      const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg, filename: 'dir/sub/pic.one.png' });
      const job = await newQueuedJob(h.jobs, known);
      await finishJob(h.runner, job.id, { width: 64, height: 64, faces: [...faces] });
      const res = await pending;
      expect(res.text).toBe(`pic.one:${name}`);
      await drainQueue();
    }
  });

  it('answers 504 when the job does not finish within the classic timeout', async () => {
    const res = await uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg, filename: 'slow.jpg' });
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ status: 504, jobId: expect.any(String) });
    expect((await h.jobs.get(res.json.jobId))?.state).toBe('queued');
    await drainQueue();
  });

  it('answers 422 when the job dead-letters on its input', async () => {
    const known = await jobIds(h.jobs);
    const pending = uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg, filename: 'x.jpg' });
    const job = await newQueuedJob(h.jobs, known);
    await failJob(h.runner, job.id, 'truncated-image', 'cut short');
    const res = await pending;
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ jobId: job.id, type: expect.stringContaining('truncated-image') });
    await drainQueue();
  });
});

describe('ops endpoints', () => {
  it('healthz and readyz answer', async () => {
    expect((await request(`${h.url}/healthz`)).json).toEqual({ status: 'ok' });
    const ready = await request(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json.checks).toEqual({ blobs: 'ok', jobs: 'ok', queue: 'ok', gallery: 'ok' });
  });

  it('metrics count requests by route and status, and read queue depth and job states on scrape', async () => {
    await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    const res = await request(`${h.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/facefleet_http_requests_total\{route="\/v1\/jobs",method="POST",status="202"\} \d+/);
    expect(res.text).toMatch(/facefleet_http_requests_total\{route="\/v1\/jobs\/:id",method="GET",status="404"\} \d+/);
    expect(res.text).toMatch(/facefleet_http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/jobs"/);
    expect(res.text).toMatch(/facefleet_queue_depth\{kind="visible"\} 1/);
    const queued = (await allJobs(h.jobs)).filter((j) => j.state === 'queued').length;
    expect(res.text).toContain(`facefleet_jobs{state="queued"} ${queued}`);
    expect(res.text).toMatch(/facefleet_job_latency_seconds_count\{kind="recognize",outcome="done"\} \d+/);
    expect(res.text).toMatch(/facefleet_jobs_submitted_total\{kind="recognize"\} \d+/);
    await drainQueue();
  });
});

describe('close()', () => {
  it('ends long-polls at once and answers them before the server stops', async () => {
    const own = await startHarness({ noStart: true, tuning: { closeGraceMs: 5_000 } });
    try {
      const running = await own.web.start('127.0.0.1', 0);
      const sub = await uploadFile(`${running.url}/v1/jobs`, { data: jpeg });
      const poll = request(`${running.url}/v1/jobs/${sub.json.id}?wait=60`);
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await running.close();
      const res = await poll;
      expect(res.status).toBe(200);
      expect(res.json.state).toBe('queued');
      // Well under the 60 s wait and the 5 s grace: the poll was ended, not waited out or cut.
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      await own.close();
    }
  });
});
