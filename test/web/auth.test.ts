import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebStartError } from '../../src/web/errors.js';
import { createApiKey, listApiKeys, parseApiKey, revokeApiKey, verifyApiKey } from '../../src/web/keys.js';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { startHarness, startWithAuth, type Harness } from './harness.js';

describe('API keys', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ noStart: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates ff_<id>_<secret> keys, stores only a salted hash, verifies and revokes', async () => {
    const { id, key } = await createApiKey(h.stores.keys, { role: 'client', name: 'ci' });
    expect(key).toMatch(/^ff_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(parseApiKey(key)?.id).toBe(id);
    const stored = await h.stores.keys.get(id);
    expect(stored).toMatchObject({ id, role: 'client', name: 'ci' });
    expect(JSON.stringify(stored)).not.toContain(parseApiKey(key)!.secret);
    expect(stored!.salt).toMatch(/^[0-9a-f]{32}$/);

    expect((await verifyApiKey(h.stores.keys, key))?.id).toBe(id);
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(await verifyApiKey(h.stores.keys, tampered)).toBeNull();
    expect(await verifyApiKey(h.stores.keys, 'ff_0000000000000000_' + 'a'.repeat(43))).toBeNull();
    expect(await verifyApiKey(h.stores.keys, 'garbage')).toBeNull();

    const second = await createApiKey(h.stores.keys, { role: 'operator' });
    const listed = await listApiKeys(h.stores.keys);
    expect(listed.map((k) => k.id)).toEqual(expect.arrayContaining([id, second.id]));
    expect(JSON.stringify(listed)).not.toMatch(/hash|salt/);

    expect(await revokeApiKey(h.stores.keys, id)).toBe(true);
    expect(await verifyApiKey(h.stores.keys, key)).toBeNull();
    expect(await revokeApiKey(h.stores.keys, 'ffffffffffffffff')).toBe(false);
  });
});

describe('start()', () => {
  it('refuses a non-loopback address when no key exists, and runs on loopback without keys', async () => {
    const h = await startHarness({ noStart: true, web: { auth: undefined } });
    try {
      await expect(h.web.start('0.0.0.0', 0)).rejects.toBeInstanceOf(WebStartError);
      const running = await h.web.start('127.0.0.1', 0);
      const res = await uploadFile(`${running.url}/v1/jobs`, { data: await validJpeg() });
      expect(res.status).toBe(202);
      await running.close();
    } finally {
      await h.close();
    }
  });

  it('refuses when auth is forced on and every key is revoked', async () => {
    const h = await startHarness({ noStart: true, web: { auth: true } });
    try {
      const { id } = await createApiKey(h.stores.keys, { role: 'operator' });
      await revokeApiKey(h.stores.keys, id);
      await expect(h.web.start('127.0.0.1', 0)).rejects.toThrow(/keys create/);
    } finally {
      await h.close();
    }
  });
});

describe('auth on', () => {
  let h: Harness;
  let clientKey: string;
  let operatorKey: string;
  let jpeg: Buffer;

  beforeAll(async () => {
    h = await startWithAuth({ captureLogs: true }, async (keys) => {
      clientKey = (await createApiKey(keys, { role: 'client' })).key;
      operatorKey = (await createApiKey(keys, { role: 'operator' })).key;
    });
    jpeg = await validJpeg();
  });
  afterAll(async () => {
    await h?.close();
  });

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it('answers 401 problem+json without a key or with a bad one', async () => {
    const attempts: Record<string, string>[] = [{}, bearer('nope'), { authorization: 'Basic abc' }, { 'x-api-key': clientKey.slice(0, -2) }];
    for (const headers of attempts) {
      const res = await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.json).toMatchObject({ status: 401, title: 'Unauthorized', requestId: expect.any(String) });
    }
  });

  it('enforces the role matrix', async () => {
    const cases: [string, string, Record<string, string>, number][] = [
      ['GET', '/v1/jobs/00000000-0000-4000-8000-000000000000', bearer(clientKey), 404],
      ['GET', '/v1/jobs/00000000-0000-4000-8000-000000000000', { 'x-api-key': operatorKey }, 404],
      ['GET', '/v1/dead-letters', bearer(clientKey), 403],
      ['GET', '/v1/dead-letters', bearer(operatorKey), 200],
      ['GET', '/v1/jobs?state=queued', bearer(clientKey), 403],
      ['GET', '/v1/jobs?state=queued', bearer(operatorKey), 200],
      ['GET', '/v1/identities', bearer(clientKey), 403],
      ['GET', '/v1/identities', { 'x-api-key': operatorKey }, 200],
      ['DELETE', '/v1/identities/Nobody', bearer(clientKey), 403],
      ['GET', '/healthz', {}, 200],
      ['GET', '/readyz', {}, 200],
      ['GET', '/metrics', {}, 200],
      ['GET', '/openapi.json', {}, 200],
    ];
    for (const [method, path, headers, status] of cases) {
      const res = await request(`${h.url}${path}`, { method, headers });
      expect(res.status, `${method} ${path} ${JSON.stringify(Object.keys(headers))}`).toBe(status);
    }
    expect((await postJson(`${h.url}/v1/identities`, { name: 'Raj' }, bearer(clientKey))).status).toBe(403);
    expect((await postJson(`${h.url}/v1/identities`, { name: 'Raj' }, bearer(operatorKey))).status).toBe(201);
    expect((await postJson(`${h.url}/v1/dead-letters/replay`, { all: true }, bearer(clientKey))).status).toBe(403);
    expect((await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, bearer(clientKey))).status).toBe(202);
    expect((await uploadFile(`${h.url}/`, { field: 'inputFile', data: jpeg }, {}, {})).status).toBe(401);
    expect((await uploadFile(`${h.url}/v1/identities/Raj/faces?wait=0`, { data: jpeg }, {}, bearer(clientKey))).status).toBe(403);
  });

  it('stops accepting a key once it is revoked', async () => {
    const { id, key } = await createApiKey(h.stores.keys, { role: 'client' });
    expect((await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`, { headers: bearer(key) })).status).toBe(404);
    await revokeApiKey(h.stores.keys, id);
    expect((await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`, { headers: bearer(key) })).status).toBe(401);
  });

  it('never writes a key to the log, and tags lines with the request id', async () => {
    h.logs.length = 0;
    await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`, { headers: { ...bearer(clientKey), 'x-request-id': 'log-check-1' } });
    await request(`${h.url}/v1/dead-letters`, { headers: { 'x-api-key': clientKey, 'x-request-id': 'log-check-2' } });
    await request(`${h.url}/v1/dead-letters`, { headers: bearer(operatorKey + 'x') });
    await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, {}, { ...bearer(operatorKey), 'x-request-id': 'log-check-3' });
    const text = h.logs.join('');
    expect(text).toContain('log-check-1');
    expect(text).toContain('log-check-3');
    for (const key of [clientKey, operatorKey]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.split('_').slice(2).join('_'));
    }
    const lines = h.logs.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requestLines = lines.filter((l) => l.msg === 'request');
    expect(requestLines.length).toBeGreaterThanOrEqual(4);
    expect(requestLines.every((l) => typeof l.requestId === 'string')).toBe(true);
    expect(lines.some((l) => l.msg === 'job accepted' && l.requestId === 'log-check-3' && typeof l.jobId === 'string')).toBe(true);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once the bucket is empty, and leaves health checks alone', async () => {
    const h = await startHarness({ web: { rateLimitPerSecond: 1 } });
    try {
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof request>> | undefined;
      for (let i = 0; i < 10; i++) {
        const res = await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
        statuses.push(res.status);
        if (res.status === 429) limited ??= res;
      }
      // Burst is 2x the rate: 2 through at once; 10 requests outrun the refill unless they take 8 s.
      expect(statuses.slice(0, 2)).toEqual([404, 404]);
      expect(statuses).toContain(429);
      expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited!.json).toMatchObject({ status: 429, type: expect.stringContaining('rate-limited') });
      expect((await request(`${h.url}/healthz`)).status).toBe(200);
      expect((await request(`${h.url}/readyz`)).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
