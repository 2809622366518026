/**
 * Fake keys must not starve real clients (issue 14, defect 2; revocation delay, item 7):
 * unknown key ids are refused without hashing, an address that keeps failing is answered 429
 * with Retry-After while cached real keys from it still work, scrypt checks are bounded per
 * process, and a revoked key stops working within a second.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthGuard } from '../../src/web/auth-guard.js';
import { createApiKey, parseApiKey, revokeApiKey, verifyApiKey } from '../../src/web/keys.js';
import { request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { startHarness, startWithAuth, type Harness } from './harness.js';

const fakeKey = (id = randomBytes(8).toString('hex')) => `ff_${id}_${randomBytes(32).toString('base64url')}`;

/** A harness with auth on, a client key, started. */
async function authHarness(tuning: Parameters<typeof startHarness>[0] = {}): Promise<{ h: Harness; key: string; id: string }> {
  let made = { key: '', id: '' };
  const h = await startWithAuth(tuning, async (keys) => {
    made = await createApiKey(keys, { role: 'client' });
  });
  const { key, id } = made;
  return { h, key, id };
}

const probe = (h: Harness, key: string) => request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000`, { headers: { authorization: `Bearer ${key}` } });

describe('verifyApiKey', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ noStart: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses an unknown key id without hashing: far cheaper than a wrong secret for a known id', async () => {
    const { id } = await createApiKey(h.stores.keys, { role: 'client' });
    const time = async (keys: string[]) => {
      const t = performance.now();
      for (const k of keys) expect(await verifyApiKey(h.stores.keys, k)).toBeNull();
      return performance.now() - t;
    };
    const n = 12;
    const wrongSecret = await time(Array.from({ length: n }, () => fakeKey(id)));
    const unknownId = await time(Array.from({ length: n }, () => fakeKey()));
    // A scrypt check is tens of ms; an unknown id costs one SQLite lookup (microseconds).
    expect(unknownId).toBeLessThan(wrongSecret / 10);
  });
});

describe('auth guard', () => {
  it('runs at most maxConcurrent checks; a few wait briefly, then 503; the rest 503 at once', async () => {
    const guard = createAuthGuard({ maxConcurrent: 2, maxWaiting: 2, maxWaitMs: 100 });
    let peak = 0;
    let running = 0;
    const slow = (ms: number) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return 'ok';
    };
    // Two run 300 ms; two wait 100 ms and give up; the fifth and sixth have no place to wait.
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => guard.hash(slow(300))));
    expect(peak).toBe(2);
    expect(results.map((r) => (r.status === 'fulfilled' ? 200 : (r.reason as { status: number }).status))).toEqual([200, 200, 503, 503, 503, 503]);
    // A waiter is served as soon as a slot frees.
    const quick = await Promise.allSettled([guard.hash(slow(50)), guard.hash(slow(50)), guard.hash(slow(10))]);
    expect(quick.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(guard.stats()).toMatchObject({ running: 0, waiting: 0 });
  });

  it('limits failures per address with a token bucket and says when to retry', () => {
    let now = 0;
    const guard = createAuthGuard({ failureBurst: 3, failuresPerSecond: 0.5, now: () => now });
    for (let i = 0; i < 3; i++) {
      guard.admit('1.2.3.4');
      guard.failed('1.2.3.4');
    }
    expect(() => guard.admit('1.2.3.4')).toThrow(expect.objectContaining({ status: 429, retryAfterSeconds: 2 }));
    guard.admit('5.6.7.8');
    now = 2_000;
    guard.admit('1.2.3.4');
  });

  it("holds a limited address's answers, but never more than maxHeld at once", async () => {
    const guard = createAuthGuard({ limitedDelayMs: 200, maxHeld: 2 });
    const t0 = performance.now();
    const done: number[] = [];
    await Promise.all([0, 1, 2].map((i) => guard.holdLimited().then(() => done.push(i))));
    // The third found both places taken and went at once; the first two waited.
    expect(done[0]).toBe(2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(guard.stats().held).toBe(0);
  });
  it('keeps at most maxHeld connections; the rest are closed at once', async () => {
    const guard = createAuthGuard({ limitedDelayMs: 2_500, maxHeld: 1 });
    const server = net.createServer((socket) => guard.holdConnection(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const dial = () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.once('close', () => resolve(performance.now() - t0));
        setTimeout(() => s.destroy(), 1_000).unref();
      });
    try {
      const [first, second] = await Promise.all([dial(), new Promise<number>((r) => setTimeout(() => void dial().then(r), 100))]);
      // The first is held until the client gives up; the second found the place taken.
      expect(first).toBeGreaterThanOrEqual(900);
      expect(second).toBeLessThan(900);
      await new Promise((r) => setTimeout(r, 50));
      expect(guard.stats().held).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('auth on, over HTTP', () => {
  it('an address sending fake keys gets 429 with Retry-After, while a cached real key from it still works', async () => {
    const { h, key } = await authHarness({ tuning: { keyCacheTtlMs: 60_000, authLimits: { failureBurst: 5, failuresPerSecond: 0.2 } } });
    try {
      expect((await probe(h, key)).status).toBe(404);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await probe(h, fakeKey())).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      const limited = await probe(h, fakeKey());
      expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(limited.json).toMatchObject({ status: 429 });
      // The real client's key was verified before: served from the cache, not limited.
      expect((await probe(h, key)).status).toBe(404);
    } finally {
      await h.close();
    }
  });

  it("keeps a limited address's connections over its cap open until their held 429, then closes them", async () => {
    const delay = 400;
    const { h } = await authHarness({ tuning: { authLimits: { failureBurst: 2, failuresPerSecond: 0.01, limitedDelayMs: delay } } });
    const open: net.Socket[] = [];
    const connect = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(Number(new URL(h.url).port), '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
    try {
      for (let i = 0; i < 3; i++) await probe(h, fakeKey());
      expect((await probe(h, fakeKey())).status).toBe(429);
      // Fill the address's allowance of open connections, then one more.
      for (let i = 0; i < 8; i++) open.push(await connect());
      const extra = await connect();
      open.push(extra);
      const t0 = performance.now();
      let answered = '';
      extra.on('data', (d: Buffer) => (answered += d.toString('latin1')));
      const closed = new Promise<number>((resolve) => extra.once('close', () => resolve(performance.now() - t0)));
      extra.on('error', () => {});
      extra.write(`GET /v1/jobs/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${fakeKey()}\r\n\r\n`);
      const after = await closed;
      // Not closed at once (a flood would reconnect at once): answered 429 after the hold, and closed.
      expect(after).toBeGreaterThanOrEqual(delay - 50);
      expect(answered).toMatch(/^HTTP\/1\.1 429 /);
      expect(answered).toMatch(/\r\nconnection: close\r\n/i);
    } finally {
      for (const s of open) s.destroy();
      await h.close();
    }
  });

  it('saturated scrypt checks answer 503 without opening the store breaker for real clients', async () => {
    const { h, key, id } = await authHarness({ tuning: { keyCacheTtlMs: 60_000, authLimits: { maxConcurrent: 1, maxWaiting: 0, failureBurst: 1000 } } });
    try {
      expect((await probe(h, key)).status).toBe(404);
      const flood = await Promise.all(Array.from({ length: 30 }, () => probe(h, fakeKey(id))));
      const statuses = flood.map((r) => r.status);
      expect(statuses).toContain(503);
      expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
      // The real client's next submit reaches the stores: the breaker did not count the 503s.
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: await validJpeg() }, {}, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(202);
    } finally {
      await h.close();
    }
  });

  it('a revoked key stops working within 1 s, though its verification is cached for minutes', async () => {
    const { h, key } = await authHarness({ tuning: { keyCacheTtlMs: 600_000 } });
    try {
      expect((await probe(h, key)).status).toBe(404);
      expect(await revokeApiKey(h.stores.keys, parseApiKey(key)!.id)).toBe(true);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await probe(h, key)).status).toBe(401);
    } finally {
      await h.close();
    }
  });
});
