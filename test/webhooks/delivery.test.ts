/**
 * Webhook deliveries end to end in one process: the web tier registers endpoints, the job
 * lifecycle and `publishEvent` make delivery jobs, and a real worker sends them to receivers on
 * 127.0.0.1 (allow-listed by address), retrying, timing out and dead-lettering as a receiver
 * behaves. Host names resolve through an injected resolver so that the delivery-time address
 * check can be shown refusing metadata and internal addresses.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRunner } from '../../src/jobs/runner.js';
import { jobView, type JobView } from '../../src/jobs/view.js';
import { silentLogger } from '../../src/log.js';
import { recordingEffects } from '../helpers/jobs.js';
import { verifyWebhook } from '../../src/webhooks/signature.js';
import { oneFaceCut } from '../helpers/images.js';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { freePort, startReceiver, startWebhookStack, until, type Receiver, type WebhookStack } from '../helpers/webhooks.js';

const RESOLVED: Record<string, string> = { 'meta.test': '169.254.169.254', 'inner.test': '10.0.0.7', 'loop.test': '127.0.0.1' };

let stack: WebhookStack;
const receivers: Receiver[] = [];
let collections = 0;

beforeAll(async () => {
  stack = await startWebhookStack({
    allow: ['127.0.0.1', 'meta.test', 'inner.test', 'loop.test'],
    timeoutMs: 600,
    resolver: async (host) => (RESOLVED[host] ? [{ address: RESOLVED[host]!, family: 4 }] : []),
  });
});

afterAll(async () => {
  for (const r of receivers) await r.close();
  await stack?.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

/** A fresh collection with one endpoint for `events` at `url`; returns its name and the registration answer. */
async function endpoint(url: string, events = ['unknown.created']) {
  const name = `wh${++collections}`;
  expect((await postJson(`${stack.web.url}/v1/collections`, { name })).status).toBe(201);
  const made = await postJson(`${stack.web.url}/v1/collections/${name}/webhooks`, { url, events });
  expect(made.status).toBe(201);
  return { collection: name, id: made.json.id as string, secret: made.json.secret as string };
}

async function delivery(id: string): Promise<JobView> {
  const record = await stack.stores.jobs.get(id);
  if (!record) throw new Error(`no delivery ${id}`);
  return jobView(record);
}

async function settled(id: string, ms = 15_000): Promise<JobView> {
  return until(async () => {
    const view = await delivery(id);
    return view.state === 'done' || view.state === 'dead-lettered' ? view : undefined;
  }, ms, `delivery ${id} to finish`);
}

function publish(collection: string, key: string): Promise<string[]> {
  return stack.publisher.publishEvent(collection, 'unknown.created', { clusterId: key }, { key });
}

const failures = (view: JobView) => view.history.filter((h) => h.event === 'FAIL');

describe('webhook endpoints', () => {
  it('register answers 201 with a whsec_ secret, once; GET lists without it; DELETE removes it', async () => {
    const r = await receiver();
    const { collection, id, secret } = await endpoint(r.url, ['job.done', 'unknown.created']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await request(`${stack.web.url}/v1/collections/${collection}/webhooks`);
    expect(listed.json.items).toEqual([expect.objectContaining({ id, url: r.url, events: ['job.done', 'unknown.created'] })]);
    expect(listed.text).not.toContain(secret);
    expect((await request(`${stack.web.url}/v1/collections/${collection}/webhooks/${id}`)).text).not.toContain(secret);
    expect((await request(`${stack.web.url}/v1/collections/${collection}/webhooks/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await request(`${stack.web.url}/v1/collections/${collection}/webhooks/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await request(`${stack.web.url}/v1/collections/${collection}/webhooks`)).json.items).toEqual([]);
  });

  it('refuses a host or an address outside the allowlist, link-local and metadata addresses, and bad events', async () => {
    const name = `wh${++collections}`;
    await postJson(`${stack.web.url}/v1/collections`, { name });
    const post = (body: unknown) => postJson(`${stack.web.url}/v1/collections/${name}/webhooks`, body);
    for (const url of ['http://evil.example/hook', 'http://127.0.0.2:9/hook', 'http://169.254.169.254/latest/meta-data', 'http://[fd00:ec2::254]/', 'http://10.0.0.7/', 'ftp://127.0.0.1/x', 'http://user:pw@127.0.0.1/']) {
      const res = await post({ url, events: ['job.done'] });
      expect(res.status, url).toBe(422);
      expect(res.json.type).toContain('webhook-url-refused');
    }
    expect((await post({ url: 'http://127.0.0.1:1/', events: ['job.started'] })).status).toBe(400);
    expect((await post({ url: 'http://127.0.0.1:1/', events: [] })).status).toBe(400);
    expect((await post({ url: 42, events: ['job.done'] })).status).toBe(400);
    expect((await request(`${stack.web.url}/v1/collections/${name}/webhooks`)).json.items).toEqual([]);
  });
});

describe('webhook deliveries', () => {
  it('a finished job is announced: job.done to the endpoint and to its callbackUrl, each signed with its own secret', async () => {
    const hooks = await receiver();
    const calls = await receiver();
    const { collection, secret } = await endpoint(hooks.url, ['job.done']);
    const sent = await uploadFile(`${stack.web.url}/v1/jobs`, { data: await oneFaceCut('bbt1@927,16'), type: 'image/png', filename: 'face.png' }, { collection, callbackUrl: calls.url });
    expect(sent.status).toBe(202);
    expect(sent.json.callback).toEqual({ url: calls.url, secret: expect.stringMatching(/^whsec_/) });
    await until(() => hooks.requests.length > 0 && calls.requests.length > 0, 15_000, 'both deliveries');
    for (const [got, key] of [
      [hooks.requests[0]!, secret],
      [calls.requests[0]!, sent.json.callback.secret as string],
    ] as const) {
      const headers = { id: String(got.headers['webhook-id']), timestamp: String(got.headers['webhook-timestamp']), signature: String(got.headers['webhook-signature']) };
      expect(headers.id).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(verifyWebhook(key, headers, got.body)).toBe(true);
      // One changed byte, or the other receiver's secret, does not verify.
      expect(verifyWebhook(key, headers, got.body.replace('done', 'dona'))).toBe(false);
      expect(verifyWebhook(key === secret ? (sent.json.callback.secret as string) : secret, headers, got.body)).toBe(false);
      const body = JSON.parse(got.body);
      expect(body).toMatchObject({ type: 'job.done', data: { jobId: sent.json.id, state: 'done', collection } });
      expect(Date.parse(body.timestamp)).not.toBeNaN();
    }
    // The job's own view shows no secret.
    expect((await request(`${stack.web.url}/v1/jobs/${sent.json.id}`)).text).not.toContain('whsec_');
    // Its deliveries, with their attempts, are found from the job.
    const found = await until(async () => {
      const res = await request(`${stack.web.url}/v1/jobs/${sent.json.id}/webhooks`);
      return res.json.items?.length === 2 && res.json.items.every((d: JobView) => d.state === 'done') ? res.json.items : undefined;
    }, 10_000, 'both deliveries done');
    expect(found.map((d: { kind: string; endpointId?: string; callback?: boolean }) => [d.kind, d.endpointId !== undefined, d.callback === true]).sort()).toEqual([
      ['webhook', false, true],
      ['webhook', true, false],
    ]);
    for (const d of found as JobView[]) {
      expect(d.history.map((h) => h.event)).toEqual(['CREATE', 'ENQUEUE', 'START', 'SUCCEED']);
      expect(d.result?.delivery?.status).toBe(204);
    }
    expect(JSON.stringify(found)).not.toContain('whsec_');
  });

  it('an enrollment job carries its own callbackUrl too, on the collection and the default routes; a host outside the allowlist is refused at submit', async () => {
    const calls = await receiver();
    const name = `wh${++collections}`;
    expect((await postJson(`${stack.web.url}/v1/collections`, { name })).status).toBe(201);
    const image = { data: await oneFaceCut('bbt1@927,16'), type: 'image/png', filename: 'face.png' };
    const routes = [`${stack.web.url}/v1/collections/${name}/identities/ann/faces?create=true`, `${stack.web.url}/v1/identities/ann/faces`];
    for (const url of routes) {
      const refused = await uploadFile(url, image, { callbackUrl: 'http://evil.example/hook' });
      expect(refused.status, url).toBe(422);
      expect(refused.json.type).toContain('webhook-url-refused');
    }
    for (const [i, url] of routes.entries()) {
      const sent = await uploadFile(url, image, { callbackUrl: `${calls.url}?route=${i}` });
      // This stack's engine finds no face, so the enrollment is refused; it is announced all the same.
      expect(sent.json.callback, url).toEqual({ url: `${calls.url}?route=${i}`, secret: expect.stringMatching(/^whsec_/) });
      const jobId = sent.json.jobId ?? sent.json.id;
      await until(() => calls.requests.some((r) => r.path.endsWith(`route=${i}`)), 15_000, `the callback of route ${i}`);
      const got = calls.requests.find((r) => r.path.endsWith(`route=${i}`))!;
      const headers = { id: String(got.headers['webhook-id']), timestamp: String(got.headers['webhook-timestamp']), signature: String(got.headers['webhook-signature']) };
      expect(verifyWebhook(sent.json.callback.secret as string, headers, got.body)).toBe(true);
      expect(JSON.parse(got.body)).toMatchObject({ data: { kind: 'enroll', ...(jobId ? { jobId } : {}) } });
      if (jobId) expect((await request(`${stack.web.url}/v1/jobs/${jobId}`)).text).not.toContain('whsec_');
    }
  });

  it('a receiver down, then up, gets exactly one successful delivery; the retries are in its history, all with one webhook-id', async () => {
    const port = await freePort();
    const { collection } = await endpoint(`http://127.0.0.1:${port}/hook`);
    const [id] = await publish(collection, 'down-up');
    // Wait for two refused attempts before the receiver comes up.
    await until(async () => failures(await delivery(id!)).length >= 2, 15_000, 'two failed attempts');
    const up = await receiver(() => ({ status: 200 }), port);
    const done = await settled(id!);
    expect(done.state).toBe('done');
    expect(up.requests).toHaveLength(1);
    expect(done.result?.delivery).toMatchObject({ status: 200 });
    const failed = failures(done);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const f of failed) expect(f.error).toMatchObject({ code: 'webhook-network', retryable: true });
    expect(done.history.filter((h) => h.event === 'START').map((h) => h.attempt)).toEqual(failed.map((_, i) => i + 1).concat(failed.length + 1));
    expect(up.requests[0]!.headers['webhook-id']).toBe(`msg_${id!.replace(/-/g, '')}`);
    // Publishing the same event again makes no second delivery.
    expect(await publish(collection, 'down-up')).toEqual([id]);
    await new Promise((r) => setTimeout(r, 300));
    expect(up.requests).toHaveLength(1);
  });

  it('a slow receiver times out and is retried, with the same webhook-id', async () => {
    const slow = await receiver((n) => (n === 0 ? { status: 200, delayMs: 2_000 } : { status: 200 }));
    const { collection } = await endpoint(slow.url);
    const [id] = await publish(collection, 'slow');
    const done = await settled(id!);
    expect(done.state).toBe('done');
    expect(failures(done).map((f) => f.error?.code)).toEqual(['webhook-timeout']);
    expect(slow.requests).toHaveLength(2);
    expect(slow.requests[1]!.headers['webhook-id']).toBe(slow.requests[0]!.headers['webhook-id']);
  });

  it('a 410 is not retried and disables the endpoint: no new deliveries, GET shows why; enabled again, a replay and new events are delivered', async () => {
    let gone = true;
    const r = await receiver(() => ({ status: gone ? 410 : 200 }));
    const { collection, id: endpointId } = await endpoint(r.url);
    const hook = `${stack.web.url}/v1/collections/${collection}/webhooks/${endpointId}`;
    expect((await request(hook)).json.state).toBe('enabled');
    const [id] = await publish(collection, 'gone');
    const dead = await settled(id!);
    expect(dead.state).toBe('dead-lettered');
    expect(dead.attempts).toBe(1);
    expect(dead.error).toMatchObject({ code: 'webhook-status', status: 410, retryable: false });
    expect(dead.deadLetterReason).toMatch(/410/);
    const listedHooks = await request(`${stack.web.url}/v1/collections/${collection}/webhooks`);
    expect(listedHooks.json.items).toEqual([expect.objectContaining({ id: endpointId, state: 'disabled', disabled: expect.objectContaining({ reason: 'gone', status: 410, deliveryId: id }) })]);
    // A disabled endpoint gets no delivery for a new event.
    expect(await publish(collection, 'gone-2')).toEqual([]);
    await new Promise((res) => setTimeout(res, 1_000));
    expect(r.requests).toHaveLength(1);
    const listed = await request(`${stack.web.url}/v1/dead-letters`);
    expect(listed.json.items).toContainEqual(expect.objectContaining({ id, lastError: expect.objectContaining({ status: 410 }) }));

    // The operator enables it (bad bodies are refused), then replays the dead letter.
    gone = false;
    const patch = (body: unknown) => request(hook, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await patch({ enabled: 'yes' })).status).toBe(400);
    expect((await request(`${stack.web.url}/v1/collections/${collection}/webhooks/wh_${'0'.repeat(24)}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"enabled":true}' })).status).toBe(404);
    const enabled = await patch({ enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.json).toMatchObject({ id: endpointId, state: 'enabled' });
    expect(enabled.json.disabled).toBeUndefined();
    expect((await postJson(`${stack.web.url}/v1/dead-letters/replay`, { ids: [id] })).status).toBe(200);
    const replayed = await settled(id!);
    expect(replayed.state).toBe('done');
    expect(r.requests).toHaveLength(2);
    expect(r.requests[1]!.headers['webhook-id']).toBe(r.requests[0]!.headers['webhook-id']);
    const [next] = await publish(collection, 'gone-3');
    expect((await settled(next!)).state).toBe('done');
    expect(r.requests).toHaveLength(3);

    // Disabled by the operator: no delivery for new events either.
    expect((await patch({ enabled: false })).json).toMatchObject({ state: 'disabled', disabled: { reason: 'operator' } });
    expect(await publish(collection, 'gone-4')).toEqual([]);
    expect(r.requests).toHaveLength(3);
  });

  it('a redirect is not followed; the attempt fails with its status', async () => {
    const target = await receiver();
    const redirecting = await receiver(() => ({ status: 302, headers: { location: target.url } }));
    const { collection, id: endpointId } = await endpoint(redirecting.url);
    const [id] = await publish(collection, 'redirect');
    await until(async () => failures(await delivery(id!)).length >= 1, 10_000, 'the redirected attempt');
    expect(failures(await delivery(id!))[0]!.error).toMatchObject({ code: 'webhook-status', status: 302, retryable: true });
    expect(target.requests).toHaveLength(0);
    // Removing the endpoint ends the delivery at its next attempt, with nothing sent.
    await request(`${stack.web.url}/v1/collections/${collection}/webhooks/${endpointId}`, { method: 'DELETE' });
    const done = await settled(id!);
    expect(done.result?.delivery).toEqual({ skipped: 'endpoint-removed' });
    expect(target.requests).toHaveLength(0);
  });

  it('an allowed host that resolves to a metadata or internal address is refused at delivery, for good', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    for (const host of ['meta.test', 'inner.test']) {
      const { collection } = await endpoint(`http://${host}:${port}/hook`);
      const [id] = await publish(collection, host);
      const dead = await settled(id!);
      expect(dead.state, host).toBe('dead-lettered');
      expect(dead.attempts).toBe(1);
      expect(dead.error).toMatchObject({ code: 'webhook-url-refused', retryable: false });
    }
    // A name that resolves to an allow-listed address is delivered.
    const { collection } = await endpoint(`http://loop.test:${port}/hook`);
    const [id] = await publish(collection, 'loop');
    expect((await settled(id!)).state).toBe('done');
    expect(r.requests).toHaveLength(1);
  });

  it('a message that comes before the retry time is sent on, delayed, and starts no attempt', async () => {
    const r = await receiver();
    const { collection } = await endpoint(r.url);
    const [id] = await publish(collection, 'early');
    await settled(id!);
    const record = (await stack.stores.jobs.get(id!))!;
    // A delivery failed once with its retry an hour away (longer than a message can wait),
    // moved by a runner whose effects send nothing, so that no message but ours exists.
    const quiet = createJobRunner({ store: stack.stores.jobs, effects: recordingEffects(), log: silentLogger() });
    const jobId = '00000000-0000-4000-8000-00000000e001';
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await quiet.create({ id: jobId, kind: 'webhook', input: record.input, options: record.options, maxAttempts: 5 });
    await quiet.dispatch(jobId, { type: 'ENQUEUE' });
    await quiet.dispatch(jobId, { type: 'START', workerId: 'by-hand', leaseSeconds: 30 });
    await quiet.dispatch(jobId, { type: 'FAIL', workerId: 'by-hand', error: { code: 'webhook-status', message: 'x', retryable: true, status: 503 }, retryAt: later });
    const before = await stack.stores.queue.depth();
    await stack.stores.queue.send({ jobId });
    await until(async () => {
      const d = await stack.stores.queue.depth();
      return d.visible === 0 && d.inFlight === 0 && d.delayed === before.delayed + 1;
    }, 5_000, 'the early message to be sent on');
    expect(await delivery(jobId)).toMatchObject({ state: 'queued', attempts: 1, retryAt: later });
    expect(r.requests).toHaveLength(1);
  });

  it("the docs' receiver example verifies a real delivery, and refuses a tampered one", async () => {
    const markdown = await fs.readFile(path.resolve('docs/webhooks.md'), 'utf8');
    const block = /<!-- docs-example: verify-webhook -->\r?\n```js\r?\n([\s\S]*?)\r?\n```/.exec(markdown)?.[1];
    expect(block).toBeDefined();
    expect(block!.split('\n').length).toBeLessThanOrEqual(12);
    const file = path.join(stack.dir, 'verify-webhook.mjs');
    await fs.writeFile(file, block!);
    const { verifyWebhook: docsVerify } = (await import(pathToFileURL(file).href)) as { verifyWebhook: (secret: string, headers: object, body: string) => boolean };
    const r = await receiver();
    const { collection, secret } = await endpoint(r.url);
    await publish(collection, 'docs');
    await until(() => r.requests.length === 1, 10_000, 'the delivery');
    const got = r.requests[0]!;
    expect(docsVerify(secret, got.headers, got.body)).toBe(true);
    expect(docsVerify(secret, got.headers, got.body.replace('docs', 'dogs'))).toBe(false);
    expect(docsVerify(secret, { ...got.headers, 'webhook-timestamp': String(Number(got.headers['webhook-timestamp']) - 600) }, got.body)).toBe(false);
  });

  it('a job saved done whose announcement was lost (a crash) is announced when its message comes back', async () => {
    const r = await receiver();
    const { collection } = await endpoint(r.url, ['job.done']);
    // Moved to done by a runner whose effects do nothing: as if the process died right after the save.
    const quiet = createJobRunner({ store: stack.stores.jobs, effects: recordingEffects(), log: silentLogger() });
    const jobId = '00000000-0000-4000-8000-00000000e002';
    await quiet.create({ id: jobId, kind: 'recognize', input: { key: `inputs/00/${jobId}`, contentType: 'image/png', bytes: 1 }, options: { topK: 1, threshold: 0.6, collection }, maxAttempts: 3 });
    await quiet.dispatch(jobId, { type: 'ENQUEUE' });
    await quiet.dispatch(jobId, { type: 'START', workerId: 'crashed', leaseSeconds: 30 });
    await quiet.dispatch(jobId, { type: 'SUCCEED', workerId: 'crashed', result: { width: 1, height: 1, faces: [] } });
    await new Promise((res) => setTimeout(res, 200));
    expect(r.requests).toHaveLength(0);
    // The undeleted message is delivered again; the worker finds the job done and repeats the announcement.
    await stack.stores.queue.send({ jobId });
    await until(() => r.requests.length === 1, 10_000, 'the job.done delivery');
    expect(JSON.parse(r.requests[0]!.body)).toMatchObject({ type: 'job.done', data: { jobId, state: 'done' } });
    // A second copy makes no second delivery.
    await stack.stores.queue.send({ jobId });
    await until(async () => (await stack.stores.queue.depth()).visible === 0 && (await stack.stores.queue.depth()).inFlight === 0, 5_000, 'the copy to be taken');
    await new Promise((res) => setTimeout(res, 300));
    expect(r.requests).toHaveLength(1);
  });
});
