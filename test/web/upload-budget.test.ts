/**
 * Upload bytes in flight are bounded per web process (503) and per key (429), and given back
 * when each upload's response closes (issue 14, defect 4). Real HTTP, held-open uploads.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { multipartBody, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { startHarness } from './harness.js';

/** Start an upload declaring `bytes` and send only its head: it holds its reservation until `end()`. */
function heldUpload(url: string, bytes: number): { end(): Promise<number> } {
  const { body, contentType } = multipartBody([{ name: 'image', filename: 'a.jpg', contentType: 'image/jpeg', data: Buffer.alloc(bytes - 400, 1) }]);
  const u = new URL(`${url}/v1/jobs`);
  let status: Promise<number> = new Promise(() => undefined);
  const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } });
  status = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
  req.write(body.subarray(0, 200));
  return {
    async end() {
      req.end(body.subarray(200));
      return status;
    },
  };
}

describe('upload budget', () => {
  it('beyond the process budget: 503 with Retry-After; room again once an upload finishes', async () => {
    const h = await startHarness({ tuning: { uploadBudget: { processBytes: 2_500_000, keyBytes: 100_000_000 } } });
    try {
      const held = heldUpload(h.url, 1_500_000);
      await new Promise((r) => setTimeout(r, 300));
      const jpeg = await validJpeg();
      const big = Buffer.concat([jpeg, Buffer.alloc(1_200_000)]);
      const refused = await uploadFile(`${h.url}/v1/jobs`, { data: big });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      // A small one still fits beside the held upload.
      expect((await uploadFile(`${h.url}/v1/jobs`, { data: jpeg })).status).toBe(202);
      expect(await held.end()).toBe(415); // not an image: refused after it was read, as any bad upload
      expect((await uploadFile(`${h.url}/v1/jobs`, { data: jpeg })).status).toBe(202);
    } finally {
      await h.close();
    }
  });

  it("beyond one key's (here, one address's) share: 429", async () => {
    const h = await startHarness({ tuning: { uploadBudget: { processBytes: 100_000_000, keyBytes: 2_000_000 } } });
    try {
      const held = heldUpload(h.url, 1_500_000);
      await new Promise((r) => setTimeout(r, 300));
      const refused = await uploadFile(`${h.url}/v1/jobs`, { data: Buffer.concat([await validJpeg(), Buffer.alloc(1_000_000)]) });
      expect(refused.status).toBe(429);
      expect(await held.end()).toBe(415); // not an image: refused after it was read, as any bad upload
    } finally {
      await h.close();
    }
  });
});
