/**
 * A web tier on real local stores and the real job runner, in its own temp dir, listening on
 * 127.0.0.1:0. No worker runs: tests play the worker's part through `finish()` / `failJob()`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '../../src/config.js';
import { createJobEffects } from '../../src/jobs/effects.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/runner.js';
import type { JobRecord, JobResult } from '../../src/jobs/types.js';
import type { Logger } from '../../src/log.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import type { BlobStore, Gallery, JobQueue, JobStore, KeyStore } from '../../src/store/ports.js';
import { startSweeper } from '../../src/processes/sweeper.js';
import { createThenSendIntake } from '../../src/store/intake.js';
import { createWebApp, type WebApp, type WebBreaker, type WebTuning } from '../../src/web/app.js';

export interface HarnessOptions {
  web?: Partial<Config['web']>;
  recognition?: Partial<Config['recognition']>;
  tuning?: Partial<WebTuning>;
  breaker?: WebBreaker;
  extraMetrics?: Registry[];
  /** Wrap the stores before the runner and the app see them (fault injection). */
  wrap?: (stores: { blobs: BlobStore; jobs: JobStore; queue: JobQueue; gallery: Gallery; keys: KeyStore }) => Partial<{
    blobs: BlobStore;
    jobs: JobStore;
    queue: JobQueue;
    gallery: Gallery;
    keys: KeyStore;
  }>;
  /** Keep every log line (as text) in `logs`. */
  captureLogs?: boolean;
  /** Skip `start()`: the test starts it itself. */
  noStart?: boolean;
  /** Use this temp base (e.g. one whose TMPDIR the test watches). */
  baseDir?: string;
}

export interface Harness {
  url: string;
  dir: string;
  dataDir: string;
  config: Config;
  stores: LocalStores;
  /** The stores as the app sees them (wrapped when `wrap` was given). */
  jobs: JobStore;
  blobs: BlobStore;
  queue: JobQueue;
  runner: JobRunner;
  web: WebApp;
  logs: string[];
  log: Logger;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await fs.mkdtemp(path.join(options.baseDir ?? os.tmpdir(), 'ff-web-'));
  const dataDir = path.join(dir, 'data');
  const logs: string[] = [];
  const log: Logger = options.captureLogs
    ? pino(
        { level: 'debug' },
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            logs.push(chunk.toString('utf8'));
            cb();
          },
        }),
      )
    : pino({ level: 'silent' });
  const base = loadConfig({ dataDir }, {});
  const config: Config = {
    ...base,
    web: { ...base.web, auth: false, rateLimitPerSecond: 100_000, ...options.web },
    recognition: { ...base.recognition, ...options.recognition },
  };
  const stores = openLocalStores({ dataDir, maxReceiveCount: config.queue.maxReceiveCount, log });
  const wrapped = { blobs: stores.blobs, jobs: stores.jobs, queue: stores.queue, gallery: stores.gallery, keys: stores.keys };
  Object.assign(wrapped, options.wrap?.(wrapped));
  const effects = createJobEffects({ queue: wrapped.queue, log, retryBaseSeconds: 1 });
  // A wrapped job store or queue must see submits too: then new jobs go create-then-send through them.
  const intake = wrapped.jobs !== stores.jobs || wrapped.queue !== stores.queue ? createThenSendIntake(wrapped.jobs, wrapped.queue) : stores.intake;
  const runner = createJobRunner({ store: wrapped.jobs, effects, intake, log });
  const web = createWebApp({
    config,
    log,
    ...wrapped,
    webhooks: stores.webhooks,
    runner,
    breaker: options.breaker,
    extraMetrics: options.extraMetrics,
    tuning: { headersTimeoutMs: 2_000, closeGraceMs: 500, keyCacheTtlMs: 0, ...options.tuning },
  });
  const running = options.noStart ? undefined : await web.start('127.0.0.1', 0);
  // The web process runs the sweeper beside the server (src/processes/web.ts); so does the harness.
  const sweeper = running ? startSweeper({ jobs: wrapped.jobs, blobs: wrapped.blobs, runner, log }, { intervalSeconds: config.web.sweepIntervalSeconds, staleSeconds: config.web.sweepStaleSeconds, orphanGraceSeconds: options.tuning?.orphanGraceSeconds }) : undefined;
  return {
    url: running?.url ?? '',
    dir,
    dataDir,
    config,
    stores,
    jobs: wrapped.jobs,
    blobs: wrapped.blobs,
    queue: wrapped.queue,
    runner,
    web,
    logs,
    log,
    async close() {
      sweeper?.stop();
      await running?.close();
      await stores.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A started harness with auth on. The web tier refuses to start with auth on until a key exists,
 * so `makeKeys` creates the test's keys first (in the key store it is given); then the server
 * starts, and `close` stops it as well.
 */
export async function startWithAuth(options: HarnessOptions, makeKeys: (keys: KeyStore) => Promise<void>): Promise<Harness> {
  const h = await startHarness({ ...options, noStart: true, web: { ...options.web, auth: true } });
  await makeKeys(h.stores.keys);
  const running = await h.web.start('127.0.0.1', 0);
  h.url = running.url;
  const close = h.close;
  h.close = async () => {
    await running.close();
    await close();
  };
  return h;
}

/** Every job in the store, any state. */
export async function allJobs(jobs: JobStore): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  for (const state of ['uploaded', 'queued', 'processing', 'done', 'dead-lettered'] as const) {
    let cursor: string | undefined;
    do {
      const page = await jobs.listByState(state, { limit: 500, cursor });
      out.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
  }
  return out;
}

/** The ids of every job now in the store. */
export async function jobIds(jobs: JobStore): Promise<Set<string>> {
  return new Set((await allJobs(jobs)).map((j) => j.id));
}

/** Resolves with the first job not in `known` to reach `queued` (a request in flight is waiting on it). */
export async function newQueuedJob(jobs: JobStore, known: Set<string>, timeoutMs = 10_000): Promise<JobRecord> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const fresh = (await allJobs(jobs)).find((j) => !known.has(j.id) && j.state === 'queued');
    if (fresh) return fresh;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no new job reached queued');
}

/** Play the worker: START then SUCCEED with `result`. */
export async function finishJob(runner: JobRunner, jobId: string, result: JobResult): Promise<void> {
  const start = await runner.dispatch(jobId, { type: 'START', workerId: 'test-worker', leaseSeconds: 30 });
  if (!start.changed) throw new Error(`START not accepted for ${jobId} (${start.record?.state})`);
  const done = await runner.dispatch(jobId, { type: 'SUCCEED', workerId: 'test-worker', result });
  if (!done.changed) throw new Error(`SUCCEED not accepted for ${jobId}`);
}

/** Play the worker: START then a permanent FAIL with `code`. */
export async function failJob(runner: JobRunner, jobId: string, code: string, message: string): Promise<void> {
  await runner.dispatch(jobId, { type: 'START', workerId: 'test-worker', leaseSeconds: 30 });
  const r = await runner.dispatch(jobId, { type: 'FAIL', workerId: 'test-worker', error: { code, message, retryable: false } });
  if (r.record?.state !== 'dead-lettered') throw new Error(`FAIL did not dead-letter ${jobId}`);
}

/** A face for results: a box of `side` x `side` matched to `identity` (or nobody). */
export function face(side: number, identity: string | null) {
  const match = identity ? { identity, distance: 0.3 } : null;
  return { box: { x: 0, y: 0, width: side, height: side }, score: 0.99, match, candidates: match ? [match] : [] };
}

/** Files under `dir`, recursively (for "no blob left behind"). */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isFile()) out.push(path.join(e.parentPath ?? dir, e.name));
  return out;
}
