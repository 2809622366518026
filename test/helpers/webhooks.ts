/**
 * Webhook test builders: a receiver on 127.0.0.1 that records every request and answers as told,
 * and an in-process stack (local stores in a temp dir, the web tier, one worker) whose runner
 * announces finished jobs to the webhook publisher. The worker's engine finds no face in any
 * image: deliveries need no model, and a recognize job then simply ends `done`.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { Engine } from '../../src/recognition/types.js';
import { buildRunner } from '../../src/services.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { createWebApp, type RunningWeb } from '../../src/web/app.js';
import { createWebhookDeliverer } from '../../src/webhooks/deliver.js';
import type { WebhookPublisher } from '../../src/webhooks/publish.js';
import type { Resolver } from '../../src/webhooks/send.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import type { JobRunner } from '../../src/jobs/runner.js';

export interface ReceivedDelivery {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
  path: string;
}

/** How the receiver answers its n-th request (from 0): a status, after a delay, or never. */
export type Answer = { status: number; delayMs?: number; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url: string;
  requests: ReceivedDelivery[];
  close(): Promise<void>;
}

export async function startReceiver(answer: (n: number, req: ReceivedDelivery) => Answer = () => ({ status: 204 }), port = 0): Promise<Receiver> {
  const requests: ReceivedDelivery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: ReceivedDelivery = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), path: req.url ?? '/' };
      const n = requests.length;
      requests.push(got);
      const a = answer(n, got);
      if (a === 'hang') return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!res.destroyed) res.writeHead(a.status, a.headers).end('ok');
      }, a.delayMs ?? 0);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    requests,
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port that nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An engine that finds no face: enough for jobs whose point is their webhook. */
export const noFaceEngine: Engine = {
  backend: 'none',
  detector: 'none',
  async analyze() {
    return { width: 1, height: 1, faces: [] };
  },
  async close() {},
};

export interface WebhookStack {
  dir: string;
  config: Config;
  stores: LocalStores;
  runner: JobRunner;
  publisher: WebhookPublisher;
  web: RunningWeb;
  worker: Worker;
  close(): Promise<void>;
}

export interface WebhookStackOptions {
  /** FACEFLEET_WEBHOOK_ALLOW of the web tier. Default `127.0.0.1`. */
  allow?: string[];
  /** The worker's allowlist, when it differs from the web tier's. */
  workerAllow?: string[];
  timeoutMs?: number;
  resolver?: Resolver;
  /** Default 0.5 s visibility-free retries: base 1 s (the plan waits at least 1 s). */
  retryBaseSeconds?: number;
}

/** Start the stack; `close()` stops the worker, the web tier and the stores, and deletes the dir. */
export async function startWebhookStack(options: WebhookStackOptions = {}): Promise<WebhookStack> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-wh-'));
  const base = loadConfig({ dataDir: dir }, {});
  const webhooks = {
    ...base.webhooks,
    allow: options.allow ?? ['127.0.0.1'],
    timeoutMs: options.timeoutMs ?? 2_000,
    retryBaseSeconds: options.retryBaseSeconds ?? 1,
  };
  const config: Config = {
    ...base,
    web: { ...base.web, auth: false, rateLimitPerSecond: 100_000 },
    queue: { ...base.queue, visibilitySeconds: 10, waitSeconds: 1 },
    worker: { ...base.worker, id: 'wh-worker', heartbeatSeconds: 2, retryBaseSeconds: 1 },
    webhooks,
  };
  const log = silentLogger();
  const stores = openLocalStores({ dataDir: dir, maxReceiveCount: config.queue.maxReceiveCount, log, pollIntervalMs: 10 });
  const { runner, publisher } = buildRunner(config, stores, log);
  const app = createWebApp({ config, log, ...stores, runner, publisher, tuning: { headersTimeoutMs: 2_000, closeGraceMs: 200, keyCacheTtlMs: 0 } });
  const web = await app.start('127.0.0.1', 0);
  const workerConfig = { ...config, webhooks: { ...webhooks, allow: options.workerAllow ?? webhooks.allow } };
  const deliveries = createWebhookDeliverer({ config: workerConfig, webhooks: stores.webhooks, blobs: stores.blobs, log, resolver: options.resolver });
  const worker = createWorker({ config: workerConfig, log, engine: noFaceEngine, ...stores, runner, deliveries, announce: publisher.jobSettled });
  void worker.run();
  return {
    dir,
    config,
    stores,
    runner,
    publisher,
    web,
    worker,
    async close() {
      await worker.stop(3_000);
      await web.close();
      await stores.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `fn` every 25 ms until it returns something truthy, or fail after `ms`. */
export async function until<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await fn();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
