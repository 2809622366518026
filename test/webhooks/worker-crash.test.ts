/**
 * A worker SIGKILLed while it holds a delivery: the delivery's message comes back after the
 * visibility timeout, another worker process takes the delivery over as attempt 2, and the
 * receiver gets the event, with the same webhook-id. Two real worker processes on one data dir.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { jobView } from '../../src/jobs/view.js';
import { silentLogger } from '../../src/log.js';
import { buildRunner } from '../../src/services.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { newWebhookSecret, verifyWebhook } from '../../src/webhooks/signature.js';
import { crash } from '../helpers/faults.js';
import { startProcess, waitForOutput, type StackProcess } from '../helpers/stack.js';
import { startReceiver, until, type Receiver } from '../helpers/webhooks.js';

const CHILD = path.resolve(process.cwd(), 'test/helpers/webhook-worker-child.ts');
const started: StackProcess[] = [];
let receiver: Receiver | undefined;
let stores: LocalStores | undefined;
let dir: string | undefined;

afterEach(async () => {
  for (const p of started.splice(0)) await p.stop(3_000);
  await receiver?.close();
  await stores?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

it('killing the worker that holds a delivery mid-way loses no event', async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-wh-crash-'));
  const env = {
    FACEFLEET_DATA_DIR: dir,
    FACEFLEET_WEBHOOK_ALLOW: '127.0.0.1',
    FACEFLEET_WEBHOOK_TIMEOUT: '8s',
    FACEFLEET_VISIBILITY: '3',
    FACEFLEET_HEARTBEAT: '1',
    FACEFLEET_QUEUE_WAIT: '1',
    FACEFLEET_LOG_FORMAT: 'json',
  };
  const config = loadConfig({}, env);
  stores = openLocalStores({ dataDir: dir, log: silentLogger() });
  const { publisher } = buildRunner(config, stores, silentLogger());

  // The first request is held open (the worker is mid-delivery); the next one is answered.
  receiver = await startReceiver((n) => (n === 0 ? 'hang' : { status: 200 }));
  const secret = newWebhookSecret();
  await stores.gallery.createCollection('crash');
  await stores.webhooks.create({ id: 'wh_000000000000000000000001', collection: 'crash', url: receiver.url, events: ['unknown.created'], secret, createdAt: new Date().toISOString() });

  // Both workers up at once; whichever takes the delivery is killed holding it.
  const workers = ['worker-a', 'worker-b'].map((workerId) => startProcess([], { ...env, FACEFLEET_WORKER_ID: workerId }, CHILD));
  started.push(...workers);
  await Promise.all(workers.map((w) => waitForOutput(w, /worker ready/, 30_000)));
  const [id] = await publisher.publishEvent('crash', 'unknown.created', { clusterId: 'c1' }, { key: 'c1' });
  await until(() => receiver!.requests.length === 1, 15_000, 'a worker to start the delivery');
  const held = jobView((await stores.jobs.get(id!))!);
  expect(held).toMatchObject({ state: 'processing', attempts: 1 });
  const holder = held.history.at(-1)!.workerId!;
  const survivor = holder === 'worker-a' ? 'worker-b' : 'worker-a';
  await crash(workers[holder === 'worker-a' ? 0 : 1]!);

  const done = await until(async () => {
    const record = await stores!.jobs.get(id!);
    return record?.state === 'done' ? jobView(record) : undefined;
  }, 30_000, 'the delivery to be done by the survivor');

  expect(done.attempts).toBe(2);
  expect(done.history.filter((h) => h.event === 'START').map((h) => h.workerId)).toEqual([holder, survivor]);
  expect(receiver.requests).toHaveLength(2);
  const [first, second] = receiver.requests;
  expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
  const headers = { id: String(second!.headers['webhook-id']), timestamp: String(second!.headers['webhook-timestamp']), signature: String(second!.headers['webhook-signature']) };
  expect(verifyWebhook(secret, headers, second!.body)).toBe(true);
  expect(JSON.parse(second!.body)).toMatchObject({ type: 'unknown.created', data: { clusterId: 'c1' } });
  const depth = await stores.queue.depth();
  expect(depth.visible + depth.inFlight + depth.delayed).toBe(0);
}, 90_000);
