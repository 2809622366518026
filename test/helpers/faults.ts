/**
 * Builders for the fault tests (`test/e2e/faults-*.test.ts`): real `facefleet web` and
 * `facefleet worker` processes with short timeouts and fault plans, the operator CLI run to
 * completion, and the embedded stores opened in the test process to look at (or tamper with)
 * what the processes wrote.
 *
 * ```ts
 * const scope = faultScope();                      // stops what it started when the test ends
 * const dir = await scope.dataDir();
 * const web = await scope.web(dir);
 * const worker = await scope.worker(dir, 'w1', { FACEFLEET_FAULTS: faultPlan({ blobs: { get: { times: 2 } } }) });
 * const { status, json } = await submit(web.url, image);
 * const job = await scope.waitForJob(dir, json.id, (j) => j.state === 'done');
 * ```
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { jobView, type JobView } from '../../src/jobs/view.js';
import { silentLogger } from '../../src/log.js';
import { openServices, type Services } from '../../src/services.js';
import type { FaultPlan } from '../../src/store/faults.js';
import { CLI, startProcess, tempDir, waitForOutput, type StackProcess } from './stack.js';

/**
 * Short timeouts so faults heal in seconds: a dead worker's message is back after 4 s, a
 * failed attempt is retried within 0-2 s (base 1 s, full jitter), workers poll in 2 s waits.
 * Every fault test's processes run with these unless a test says otherwise.
 */
export const FAST_ENV: Readonly<Record<string, string>> = {
  FACEFLEET_VISIBILITY: '4',
  FACEFLEET_HEARTBEAT: '1',
  FACEFLEET_RETRY_BASE: '1',
  FACEFLEET_QUEUE_WAIT: '2',
  FACEFLEET_MAX_RECEIVES: '3',
  FACEFLEET_SHUTDOWN_TIMEOUT: '15',
  FACEFLEET_RATE_LIMIT: '0',
};

/** The FACEFLEET_FAULTS value for per-store plans, e.g. `{ blobs: { get: { times: 2 } } }`. */
export function faultPlan(plans: Record<string, FaultPlan>): string {
  return JSON.stringify(plans);
}

/** A process with a URL: the web tier. */
export interface WebProcess extends StackProcess {
  url: string;
}

/** A worker process and the id it logs under. */
export interface WorkerProcess extends StackProcess {
  workerId: string;
}

/** One JSON log line (pino), as a worker or the web tier wrote it. */
export type LogLine = Record<string, unknown> & { msg?: string; jobId?: string };

/** The JSON log lines a process wrote so far (non-JSON lines are skipped). */
export function logLines(p: StackProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of p.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // A line cut short by SIGKILL.
    }
  }
  return out;
}

/** Log lines of `processes` with this message (and job id, when given). */
export function linesAbout(processes: StackProcess[], msg: string, jobId?: string): LogLine[] {
  return processes.flatMap(logLines).filter((l) => l.msg === msg && (jobId === undefined || l.jobId === jobId));
}

/** SIGKILL a process's whole group at once: a crash, with no chance to clean up. */
export async function crash(p: StackProcess): Promise<void> {
  try {
    process.kill(-p.proc.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  await p.exited;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `facefleet <args>` to completion (at most `timeoutMs`), capturing its output. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: process.cwd(),
      env: { ...process.env, FACEFLEET_FAULTS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`facefleet ${args.join(' ')} took longer than ${timeoutMs} ms:\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SubmitResult {
  status: number;
  headers: Headers;
  json: { id?: string; jobId?: string; state?: string; detail?: string; [k: string]: unknown };
}

/** `POST /v1/jobs` with one image, as a client would (submit, then poll). */
export async function submit(url: string, image: Buffer, filename = 'face.jpg'): Promise<SubmitResult> {
  const form = new FormData();
  form.append('image', new Blob([image], { type: 'image/jpeg' }), filename);
  const res = await fetch(`${url}/v1/jobs`, { method: 'POST', body: form });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as SubmitResult['json']) : {} };
}

/** History entries of `job` for one event type (`START`, `SUCCEED`, `FAIL`, `REPLAY`, ...). */
export function eventsOf(job: JobView, event: string): JobView['history'] {
  return job.history.filter((h) => h.event === event);
}

/**
 * Per-test resources: every process, data dir and store handle made through it is released
 * when the test ends, pass or fail (processes first, then stores, then the dirs).
 */
export interface FaultScope {
  /** A fresh temp data dir, removed at the end. */
  dataDir(): Promise<string>;
  /** `facefleet web` on a free port, with FAST_ENV and `env`. */
  web(dataDir: string, env?: Record<string, string>): Promise<WebProcess>;
  /** `facefleet worker` with id `workerId`, resolved once its model is loaded. */
  worker(dataDir: string, workerId: string, env?: Record<string, string>): Promise<WorkerProcess>;
  /** `facefleet up` with FAST_ENV, `args` and `env`; resolved once it listens. */
  up(dataDir: string, args?: string[], env?: Record<string, string>): Promise<WebProcess>;
  /** The embedded stores of `dataDir`, opened in this process (no faults). */
  stores(dataDir: string): Promise<Services>;
  /** Read a job straight from the job store; null when absent. */
  job(dataDir: string, id: string): Promise<JobView | null>;
  /** Poll the job store until `done(job)` holds. */
  waitForJob(dataDir: string, id: string, done: (job: JobView) => boolean, timeoutMs?: number): Promise<JobView>;
}

export function faultScope(): FaultScope {
  const processes: StackProcess[] = [];
  const services = new Map<string, Promise<Services>>();
  const dirs: string[] = [];

  onTestFinished(async () => {
    await Promise.all(processes.map((p) => p.stop(5_000)));
    for (const s of services.values()) await (await s).close();
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
  });

  const start = (args: string[], env: Record<string, string>): StackProcess => {
    const p = startProcess(args, { ...FAST_ENV, FACEFLEET_FAULTS: '', ...env });
    processes.push(p);
    return p;
  };

  const scope: FaultScope = {
    async dataDir() {
      const dir = await tempDir('ff-faults-');
      dirs.push(dir);
      return dir;
    },
    async web(dataDir, env = {}) {
      const p = start(['web', '--port', '0', '--data-dir', dataDir], env);
      const m = await waitForOutput(p, /web listening on (http:\/\/\S+)/, 90_000);
      return { ...p, url: m[1]!.replace(/\/$/, '') };
    },
    async worker(dataDir, workerId, env = {}) {
      const p = start(['worker', '--data-dir', dataDir, '--worker-id', workerId], env);
      await waitForOutput(p, /"msg":"worker ready"/, 120_000);
      return { ...p, workerId };
    },
    async up(dataDir, args = [], env = {}) {
      const p = start(['up', '--port', '0', '--data-dir', dataDir, ...args], env);
      const m = await waitForOutput(p, /listening on (http:\/\/\S+)/, 90_000);
      return { ...p, url: m[1]!.replace(/\/$/, '') };
    },
    stores(dataDir) {
      let s = services.get(dataDir);
      if (!s) {
        // An explicit empty environment: the test process's own FACEFLEET_* must not leak in.
        s = openServices(loadConfig({ dataDir, logLevel: 'silent' }, {}), silentLogger());
        services.set(dataDir, s);
      }
      return s;
    },
    async job(dataDir, id) {
      const record = await (await scope.stores(dataDir)).jobs.get(id);
      return record && jobView(record);
    },
    async waitForJob(dataDir, id, done, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await scope.job(dataDir, id);
        if (job && done(job)) return job;
        if (Date.now() > deadline) {
          const seen = job ? `${job.state}, attempts ${job.attempts}, history ${job.history.map((h) => h.event).join(' ')}` : 'no such job';
          throw new Error(`timed out waiting for job ${id}; last seen: ${seen}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  return scope;
}
