/**
 * Hostile input: each case gets the right 4xx as problem+json, the server keeps serving, and
 * nothing is left behind (no job, no blob, no temp file). TMPDIR points at a directory of this
 * file's own so "no temp file" is checked without racing other test files.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputKey } from '../../src/web/submit.js';
import { multipartBody, postJson, postMultipart, request, trickle, uploadFile, type Part, type SimpleResponse } from '../helpers/http.js';
import { SVG_WITH_SCRIPT, TEXT_FILE, animatedGif, pngBomb, truncatedJpeg, validJpeg } from '../helpers/hostile.js';
import { allJobs, filesUnder, startHarness, type Harness } from './harness.js';

const MAX_UPLOAD = 256 * 1024;
let base: string;
let tmp: string;
let h: Harness;
let jpeg: Buffer;
const realTmp = os.tmpdir();

beforeAll(async () => {
  base = await fs.mkdtemp(path.join(realTmp, 'ff-hostile-'));
  tmp = path.join(base, 'tmp');
  await fs.mkdir(tmp);
  process.env.TMPDIR = tmp;
  h = await startHarness({
    baseDir: base,
    web: { maxUploadBytes: MAX_UPLOAD },
    tuning: { headersTimeoutMs: 500, requestTimeoutMs: 5_000, connectionsCheckingIntervalMs: 100 },
  });
  jpeg = await validJpeg();
});
afterAll(async () => {
  await h?.close();
  process.env.TMPDIR = realTmp;
  await fs.rm(base, { recursive: true, force: true });
});

function file(data: Buffer | string, filename = 'face.jpg', name = 'image', contentType = 'image/jpeg'): Part {
  return { name, filename, contentType, data };
}

type Case = [name: string, send: () => Promise<SimpleResponse>, status: number, code?: string];

function cases(): Case[] {
  const jobs = `${h.url}/v1/jobs`;
  return [
    ['0-byte file', () => postMultipart(jobs, [file(Buffer.alloc(0))]), 400, 'empty-image'],
    ['text file named .jpg', () => postMultipart(jobs, [file(TEXT_FILE)]), 415, 'not-an-image'],
    ['truncated JPEG', async () => postMultipart(jobs, [file(await truncatedJpeg())]), 422, 'truncated-image'],
    ['30000x30000 PNG bomb', async () => postMultipart(jobs, [file(await pngBomb(), 'bomb.png', 'image', 'image/png')]), 413, 'too-many-pixels'],
    ['SVG with a script', () => postMultipart(jobs, [file(SVG_WITH_SCRIPT, 'x.svg', 'image', 'image/svg+xml')]), 415, 'unsupported-format'],
    ['multi-frame GIF', async () => postMultipart(jobs, [file(await animatedGif(), 'a.gif', 'image', 'image/gif')]), 415, 'animated-image'],
    ['wrong field name', () => postMultipart(jobs, [file(jpeg, 'face.jpg', 'picture')]), 400, 'unexpected-field'],
    ['two files at once', () => postMultipart(jobs, [file(jpeg), file(jpeg, 'b.jpg')]), 400, 'too-many-files'],
    ['no file, only fields', () => postMultipart(jobs, [{ name: 'wait', data: '1' }]), 400, 'missing-file'],
    ['body over the size limit', () => postMultipart(jobs, [file(Buffer.alloc(MAX_UPLOAD + 1024, 0xff))]), 413, 'file-too-large'],
    ['a 20 MB body, refused by its declared length', () => postMultipart(jobs, [file(Buffer.alloc(20 * 1024 * 1024, 0xff))]), 413, 'file-too-large'],
    ['missing boundary', () => request(jobs, { method: 'POST', body: multipartBody([file(jpeg)]).body, headers: { 'content-type': 'multipart/form-data' } }), 400, 'malformed-multipart'],
    ['body cut before the closing boundary', () => {
      const { body, contentType } = multipartBody([file(jpeg)], { close: false });
      return request(jobs, { method: 'POST', body: body.subarray(0, body.length - 100), headers: { 'content-type': contentType } });
    }, 400, 'malformed-multipart'],
    // busboy refuses a raw NUL in a part header; an RFC 5987 encoded one gets through to our own check.
    ['NUL in the file name', () => postMultipart(jobs, [file(jpeg, 'fa\u0000ce.jpg')]), 400, 'malformed-multipart'],
    ['encoded NUL in the file name', () => postMultipart(jobs, [{ name: 'image', data: jpeg, rawHeaders: `Content-Disposition: form-data; name="image"; filename*=UTF-8''fa%00ce.jpg\r\nContent-Type: image/jpeg\r\n` }]), 400, 'bad-filename'],
    ['escape sequence in the file name', () => postMultipart(jobs, [{ name: 'image', data: jpeg, rawHeaders: `Content-Disposition: form-data; name="image"; filename*=UTF-8''%1B%5B31mred.jpg\r\nContent-Type: image/jpeg\r\n` }]), 400, 'bad-filename'],
    ['10 KB file name', () => postMultipart(jobs, [file(jpeg, 'a'.repeat(10 * 1024) + '.jpg')]), 400, 'bad-filename'],
    ['too many fields', () => postMultipart(jobs, [...Array.from({ length: 12 }, (_, i) => ({ name: `f${i}`, data: 'x' })), file(jpeg)]), 400, 'multipart-limits'],
    ['wait=-1', () => postMultipart(`${jobs}?wait=-1`, [file(jpeg)]), 400, 'bad-wait'],
    ['wait=1e9', () => postMultipart(`${jobs}?wait=1e9`, [file(jpeg)]), 400, 'bad-wait'],
    ['wait=abc (form field)', () => postMultipart(jobs, [{ name: 'wait', data: 'abc' }, file(jpeg)]), 400, 'bad-wait'],
    ['topK=0', () => postMultipart(jobs, [{ name: 'topK', data: '0' }, file(jpeg)]), 400, 'bad-top-k'],
    ['threshold=5', () => postMultipart(jobs, [{ name: 'threshold', data: '5' }, file(jpeg)]), 400, 'bad-threshold'],
    ['margin=-0.1', () => postMultipart(jobs, [{ name: 'margin', data: '-0.1' }, file(jpeg)]), 400, 'bad-margin'],
    ['margin=abc', () => postMultipart(jobs, [{ name: 'margin', data: 'abc' }, file(jpeg)]), 400, 'bad-margin'],
    ['JSON where multipart is expected', () => postJson(jobs, { image: jpeg.toString('base64') }), 415, 'not-multipart'],
    ['classic protocol, wrong field', () => postMultipart(`${h.url}/`, [file(jpeg, 'test_000.jpg', 'image')]), 400, 'unexpected-field'],
    ['unknown job id', () => request(`${jobs}/6f1c2a8e-0000-4000-8000-000000000000`), 404, 'not-found'],
    ['malformed job id', () => request(`${jobs}/..%2F..%2Fetc%2Fpasswd`), 400, 'bad-job-id'],
    ['poll with wait=abc', () => request(`${jobs}/6f1c2a8e-0000-4000-8000-000000000000?wait=abc`), 400, 'bad-wait'],
    ['enroll with a bad identity name', () => postMultipart(`${h.url}/v1/identities/${encodeURIComponent('<script>')}/faces`, [file(jpeg)]), 400, 'bad-identity-name'],
    ['identity create with broken JSON', () => request(`${h.url}/v1/identities`, { method: 'POST', body: '{"name": ', headers: { 'content-type': 'application/json' } }), 400, 'malformed-body'],
    ['identity create with a huge body', () => postJson(`${h.url}/v1/identities`, { name: 'x'.repeat(100_000) }), 413, 'body-too-large'],
    ['a forged listing cursor', () => request(`${jobs}?state=queued&cursor=bm90LWEtY3Vyc29y`), 400, 'bad-cursor'],
    ['a forged dead-letter cursor', () => request(`${h.url}/v1/dead-letters?cursor=%7B%7D`), 400, 'bad-cursor'],
    ['unknown route', () => request(`${h.url}/v1/nothing-here`), 404, 'not-found'],
  ];
}

describe('hostile input', () => {
  it('answers each case with the right 4xx problem, keeps serving, and leaves nothing behind', async () => {
    const before = { jobs: (await allJobs(h.jobs)).length, blobs: (await filesUnder(path.join(h.dataDir, 'blobs'))).length };
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(20);
    for (const [name, send, status, code] of all) {
      const res = await send();
      expect(res.status, name).toBe(status);
      expect(res.headers.get('content-type'), name).toMatch(/^application\/problem\+json/);
      expect(res.json, name).toMatchObject({ status, title: expect.any(String), detail: expect.any(String), requestId: res.headers.get('x-request-id') });
      if (code) expect(res.json.type, name).toBe(`https://facefleet.dev/problems/${code}`);
      expect((await request(`${h.url}/healthz`)).status, `serving after: ${name}`).toBe(200);
    }
    expect((await allJobs(h.jobs)).length).toBe(before.jobs);
    expect((await filesUnder(path.join(h.dataDir, 'blobs'))).length).toBe(before.blobs);
    expect(await fs.readdir(tmp)).toEqual([]);
    const ok = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg });
    expect(ok.status).toBe(202);
  });

  it('accepts path-traversal and unicode file names, keeping a sanitised base name', async () => {
    for (const [name, expected] of [
      ['../../x.jpg', 'x.jpg'],
      ['..\\..\\windows\\evil.jpg', 'evil.jpg'],
      ['Zoë Ångström 写真.jpg', 'Zoë Ångström 写真.jpg'],
      ['emoji 😀 face.jpg', 'emoji _ face.jpg'],
      ['e\u0301clair.jpg', 'éclair.jpg'],
    ]) {
      const res = await postMultipart(`${h.url}/v1/jobs`, [file(jpeg, name)]);
      expect(res.status, name).toBe(202);
      const job = await h.jobs.get(res.json.id);
      expect(job?.input.filename, name).toBe(expected);
      expect(await h.blobs.exists(inputKey(res.json.id))).toBe(true);
    }
  });

  it('cuts off a client that trickles its headers', async () => {
    const result = await trickle(h.url, 'POST /v1/jobs HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n', 100, 10_000);
    expect(result.closedByServer).toBe(true);
    expect(result.received).toMatch(/^HTTP\/1\.1 408/);
    expect((await request(`${h.url}/healthz`)).status).toBe(200);
  });

  it('answers 500 concurrent uploads, losing none', async () => {
    // Generous header timeout here: on two shared cores the last of 500 simultaneous connections
    // can wait seconds before its headers are read, and a 408 is not what this test is about.
    const busy = await startHarness({ baseDir: base, tuning: { headersTimeoutMs: 60_000 } });
    try {
      await concurrentUploads(busy);
    } finally {
      await busy.close();
    }
  }, 120_000);
});

async function concurrentUploads(h: Harness): Promise<void> {
  {
    const before = new Set((await allJobs(h.jobs)).map((j) => j.id));
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => uploadFile(`${h.url}/v1/jobs`, { data: jpeg, filename: `c${i}.jpg` })));
    expect(results.map((r) => r.status)).toEqual(Array(500).fill(202));
    const ids = results.map((r) => r.json.id as string);
    expect(new Set(ids).size).toBe(500);
    const jobs = await allJobs(h.jobs);
    const byId = new Map(jobs.map((j) => [j.id, j]));
    for (const id of ids) {
      expect(before.has(id)).toBe(false);
      expect(byId.get(id)?.state).toBe('queued');
    }
    expect((await h.queue.depth()).visible).toBe(500);
  }
}
