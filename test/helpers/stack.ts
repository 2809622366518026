/**
 * Start real facefleet processes for end-to-end tests: `facefleet up` (or `web` / `worker`)
 * as child processes running this checkout's TypeScript through tsx. Every process a test
 * starts is stopped by `stop()`, which waits for the whole process group to go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const CLI = path.resolve(process.cwd(), 'src/cli/main.ts');

export interface StackProcess {
  proc: ChildProcess;
  /** Everything the process wrote to stderr so far (JSON log lines and messages). */
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string | null>;
  /** SIGTERM, then SIGKILL to the whole group after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface Stack extends StackProcess {
  url: string;
  dataDir: string;
}

export async function tempDir(prefix = 'ff-e2e-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** The compiled CLI (`npm ci` builds it): what `npm start` and `npx facefleet` run. */
export const BUILT_CLI = path.resolve(process.cwd(), 'dist/src/cli/main.js');

/** Run `facefleet <args>` as a child in its own process group: `entry` is {@link CLI} (through tsx) or {@link BUILT_CLI}. */
export function startProcess(args: string[], env: Record<string, string> = {}, entry = CLI): StackProcess {
  const proc = spawn(process.execPath, [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry, ...args], {
    cwd: process.cwd(),
    env: { ...process.env, FACEFLEET_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
  });
  proc.stdout!.resume();
  const exited = new Promise<number | string | null>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  return {
    proc,
    stderr: () => err,
    exited,
    async stop(graceMs = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        killGroup('SIGKILL');
        return;
      }
      proc.kill('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Whatever the parent left behind in its group (workers) goes too.
      killGroup('SIGKILL');
    },
  };
}

/** Wait until `pattern` appears on the process's stderr, or fail with what it printed. */
export async function waitForOutput(p: StackProcess, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = p.stderr().match(pattern);
    if (m) return m;
    if (p.proc.exitCode !== null) throw new Error(`process exited (${p.proc.exitCode}) before ${pattern}:\n${p.stderr().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${p.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `facefleet up` on a free port with its own data dir. */
export async function startUp(options: { dataDir?: string; args?: string[]; env?: Record<string, string>; entry?: string } = {}): Promise<Stack> {
  const dataDir = options.dataDir ?? (await tempDir());
  const p = startProcess(['up', '--port', '0', '--data-dir', dataDir, ...(options.args ?? [])], options.env, options.entry);
  const m = await waitForOutput(p, /listening on (http:\/\/[^\s]+)/);
  return { ...p, url: m[1].replace(/\/$/, ''), dataDir };
}

/** Poll `fn` until it returns a truthy value. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
