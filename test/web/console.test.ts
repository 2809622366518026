import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbnailKey } from '../../src/jobs/thumbnails.js';
import { createApiKey } from '../../src/web/keys.js';
import { problemHandler } from '../../src/web/problem.js';
import type { RouteContext } from '../../src/web/route-context.js';
import { CONSOLE_CSP, registerConsoleRoutes } from '../../src/web/routes/console.js';
import { parseKeyBody } from '../../src/web/routes/api-keys.js';
import { request } from '../helpers/http.js';
import { startHarness, startWithAuth, type Harness } from './harness.js';

async function jpegOf(color: string, size = 64): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: color } }).jpeg().toBuffer();
}

/** A console served from `dir` on a bare app (no stores are touched by the static routes). */
async function consoleOnly(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const pass: express.RequestHandler = (_req, _res, next) => next();
  const rc = {
    auth: { requireRole: () => pass },
    rateLimit: pass,
    deps: { config: { worker: { heartbeatSeconds: 1 } }, gallery: {}, keys: {}, queue: {}, jobs: {}, blobs: {} },
  } as unknown as RouteContext;
  const app = express();
  registerConsoleRoutes(app, rc, { dir });
  app.use(problemHandler({ maxUploadBytes: 1 }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('console static routes', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-console-'));
    await fs.mkdir(path.join(tmp, 'built'));
    await fs.writeFile(path.join(tmp, 'built', 'index.html'), '<!doctype html><title>x</title>');
    await fs.writeFile(path.join(tmp, 'built', 'main.js'), 'export {};');
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('serves the files with the CSP and nosniff, 404s and redirects included', async () => {
    const s = await consoleOnly(path.join(tmp, 'built'));
    try {
      for (const [p, status] of [['/console/', 200], ['/console/main.js', 200], ['/console/nope.js', 404], ['/console', 301]] as const) {
        const res = await fetch(s.url + p, { redirect: 'manual' });
        expect(res.status, p).toBe(status);
        expect(res.headers.get('content-security-policy'), p).toBe(CONSOLE_CSP);
        expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      }
      expect(CONSOLE_CSP).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self'/);
      expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect((await fetch(`${s.url}/console/main.js`)).headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${s.url}/console`, { redirect: 'manual' })).headers.get('location')).toBe('/console/');
    } finally {
      await s.close();
    }
  });

  it('answers 503 with the CSP when the console was not built', async () => {
    const s = await consoleOnly(path.join(tmp, 'missing'));
    try {
      const res = await request(`${s.url}/console/`);
      expect(res.status).toBe(503);
      expect(res.json.detail).toMatch(/build:console/);
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    } finally {
      await s.close();
    }
  });
});

describe('console API routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('redirects a browser asking for / to /console/; API clients and POST / are untouched', async () => {
    const browser = await fetch(`${h.url}/`, { headers: { Accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('/console/');
    expect((await request(`${h.url}/`, { headers: { Accept: 'application/json' } })).status).toBe(404);
    const classic = await request(`${h.url}/`, { method: 'POST', headers: { Accept: 'text/html' } });
    expect(classic.status).toBeGreaterThanOrEqual(400);
    expect(classic.status).not.toBe(302);
  });

  it('GET /v1/me says the role (operator with auth off)', async () => {
    expect((await request(`${h.url}/v1/me`)).json).toEqual({ role: 'operator', auth: false });
  });

  it('creates a key (shown once), lists keys without secrets, revokes one; bad input is 400 and changes nothing', async () => {
    const created = await request(`${h.url}/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'client', name: 'photo app' }) });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ role: 'client', name: 'photo app', key: expect.stringMatching(/^ff_[0-9a-f]{16}_/) });
    const list = await request(`${h.url}/v1/keys`);
    expect(list.json.items).toEqual([expect.objectContaining({ id: created.json.id, role: 'client', name: 'photo app' })]);
    expect(list.text).not.toMatch(/hash|salt/);
    expect(list.text).not.toContain(created.json.key);
    for (const body of [{ role: 'admin' }, { role: 'client', name: '<b>' }, []]) {
      const bad = await request(`${h.url}/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(bad.status).toBe(400);
    }
    expect((await request(`${h.url}/v1/keys`)).json.items).toHaveLength(1);
    expect((await request(`${h.url}/v1/keys/not-a-key`, { method: 'DELETE' })).status).toBe(400);
    expect((await request(`${h.url}/v1/keys/0123456789abcdef`, { method: 'DELETE' })).status).toBe(404);
    expect((await request(`${h.url}/v1/keys/${created.json.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await request(`${h.url}/v1/keys`)).json.items[0].revokedAt).toEqual(expect.any(String));
  });

  it('GET /v1/fleet reports the queue, jobs and the web breaker; parts it cannot see are null', async () => {
    const res = await request(`${h.url}/v1/fleet`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      queue: { visible: 0, inFlight: 0, delayed: 0, deadLetters: 0 },
      jobs: { queued: 0, done: 0 },
      workers: null,
      controller: null,
      breakers: { web: 'closed' },
      errors: {},
    });
  });

  it("lists an identity's faces and serves a face's thumbnail as image/jpeg with nosniff, only under its own identity", async () => {
    const face = await h.stores.gallery.addFace('Ada', { descriptor: new Float32Array(128).fill(0.1) });
    await h.stores.gallery.addFace('Bob', { descriptor: new Float32Array(128).fill(0.2) });
    const thumb = await jpegOf('#336699');
    await h.blobs.put(thumbnailKey(face.id), thumb, { contentType: 'image/jpeg' });
    const faces = await request(`${h.url}/v1/identities/Ada/faces`);
    expect(faces.json.items).toEqual([expect.objectContaining({ id: face.id, identity: 'Ada', links: { thumbnail: `/v1/identities/Ada/faces/${face.id}/thumbnail` } })]);
    expect(faces.text).not.toMatch(/descriptor/);
    const res = await fetch(`${h.url}/v1/identities/Ada/faces/${face.id}/thumbnail`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(thumb)).toBe(true);
    expect((await request(`${h.url}/v1/identities/Bob/faces/${face.id}/thumbnail`)).status).toBe(404);
    expect((await request(`${h.url}/v1/identities/Ada/faces/..%2F..%2Fx/thumbnail`)).status).toBe(400);
    expect((await request(`${h.url}/v1/identities/Nobody/faces`)).status).toBe(404);
    const inCollection = await fetch(`${h.url}/v1/collections/default/identities/Ada/faces/${face.id}/thumbnail`);
    expect(inCollection.status).toBe(200);
    expect(Buffer.from(await inCollection.arrayBuffer()).equals(thumb)).toBe(true);
    expect((await request(`${h.url}/v1/collections/nowhere/identities/Ada/faces/${face.id}/thumbnail`)).status).toBe(404);
    await h.blobs.delete(thumbnailKey(face.id));
    expect((await request(`${h.url}/v1/identities/Ada/faces/${face.id}/thumbnail`)).status).toBe(404);
  });

  it("serves a job's input image while it is retained", async () => {
    const image = await jpegOf('#884422', 80);
    const form = new FormData();
    form.append('image', new Blob([image], { type: 'image/jpeg' }), 'in.jpg');
    const { id } = (await (await fetch(`${h.url}/v1/jobs`, { method: 'POST', body: form })).json()) as { id: string };
    const res = await fetch(`${h.url}/v1/jobs/${id}/image`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(image)).toBe(true);
    await h.blobs.delete((await h.jobs.get(id))!.input.key);
    const gone = await request(`${h.url}/v1/jobs/${id}/image`);
    expect(gone.status).toBe(404);
    expect(gone.json.detail).toMatch(/no longer retained/);
    expect((await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000/image`)).status).toBe(404);
  });
});

describe('console API routes with auth on', () => {
  let h: Harness;
  let client: string;
  let operator: string;
  beforeAll(async () => {
    h = await startWithAuth({}, async (keys) => {
      client = (await createApiKey(keys, { role: 'client' })).key;
      operator = (await createApiKey(keys, { role: 'operator' })).key;
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("tells a key its role; keys, fleet and faces are for operators; a job's image for its owner or an operator", async () => {
    const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    expect((await request(`${h.url}/v1/me`)).status).toBe(401);
    expect((await request(`${h.url}/v1/me`, auth(client))).json).toMatchObject({ role: 'client', auth: true, keyId: client.slice(3, 19) });
    for (const p of ['/v1/keys', '/v1/fleet', '/v1/identities/Ada/faces', '/v1/collections/default/identities/Ada/faces/f1/thumbnail']) {
      expect((await request(h.url + p, auth(client))).status, p).toBe(403);
    }
    const other = (await createApiKey(h.stores.keys, { role: 'client' })).key;
    const form = new FormData();
    form.append('image', new Blob([await jpegOf('#225588', 64)], { type: 'image/jpeg' }), 'in.jpg');
    const { id } = (await (await fetch(`${h.url}/v1/jobs`, { method: 'POST', body: form, ...auth(client) })).json()) as { id: string };
    expect((await request(`${h.url}/v1/jobs/${id}/image`, auth(other))).status).toBe(404);
    expect((await request(`${h.url}/v1/jobs/${id}/image`, auth(client))).status).toBe(200);
    expect((await request(`${h.url}/v1/jobs/${id}/image`, auth(operator))).status).toBe(200);
    expect((await request(`${h.url}/v1/keys`, auth(operator))).status).toBe(200);
    // The console itself needs no key: it asks for one.
    expect((await fetch(`${h.url}/console/`, { redirect: 'manual' })).headers.get('content-security-policy')).toBe(CONSOLE_CSP);
  });
});

describe('parseKeyBody', () => {
  it('takes a role and an optional name', () => {
    expect(parseKeyBody({ role: 'operator' })).toEqual({ role: 'operator' });
    expect(parseKeyBody({ role: 'client', name: 'ci box' })).toEqual({ role: 'client', name: 'ci box' });
    expect(() => parseKeyBody({ role: 'client', name: 'x'.repeat(65) })).toThrow(/name/);
    expect(() => parseKeyBody(null)).toThrow(/role/);
  });
});
