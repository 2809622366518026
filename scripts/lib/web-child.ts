/**
 * For the hardening benchmarks: a data dir with one client API key, and `facefleet web` on it
 * (auth on, 127.0.0.1, port 0, rate limit off) run through tsx, in its own process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { openLocalStores } from '../../src/store/local/index.js';
import { createApiKey } from '../../src/web/keys.js';
import { CLI } from './stack.js';

export interface WebChild {
  url: string;
  proc: ChildProcess;
  /** The client keys created before the start. */
  keys: { id: string; key: string }[];
  stderr(): string;
  stop(): Promise<void>;
}

export async function startWebWithKeys(options: { clients?: number; env?: Record<string, string> } = {}): Promise<WebChild> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-bench-'));
  const stores = openLocalStores({ dataDir, log: silentLogger() });
  const keys: { id: string; key: string }[] = [];
  for (let i = 0; i < (options.clients ?? 1); i++) keys.push(await createApiKey(stores.keys, { role: 'client', name: `bench-${i}` }));
  await stores.close();
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'web', '--port', '0', '--data-dir', dataDir], {
    cwd: process.cwd(),
    env: { ...process.env, FACEFLEET_AUTH: 'on', FACEFLEET_RATE_LIMIT: '0', FACEFLEET_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 2_000_000) err = err.slice(-1_000_000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => process.kill(-proc.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const m = /listening on (http:\/\/\S+)/.exec(err);
    if (m) return { url: m[1].replace(/\/$/, ''), proc, keys, stderr: () => err, stop };
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`facefleet web did not start:\n${err.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Sent {
  status: number;
  ms: number;
}

/** One request with headers and an optional body on `agent`; never rejects (status 0 on a socket error). */
export function send(agent: http.Agent, url: string, method: string, headers: Record<string, string | number>, body?: Buffer | (() => NodeJS.ReadableStream)): Promise<Sent> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise<Sent>((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, headers, timeout: 180_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    if (typeof body === 'function') body().pipe(req);
    else req.end(body);
  });
}
