/**
 * Start and stop real facefleet processes for the benchmarks: `facefleet up` (or `web`) as a
 * child, in its own process group, with its own temporary data dir. It runs what `npm start`
 * runs, the compiled CLI (`dist/`, rebuilt first when older than `src/`), or with `tsx: true`
 * this checkout's TypeScript through tsx. `stop()` ends the whole group (workers included)
 * and removes the data dir the helper created. Scripts only: tests have their own helper in
 * test/helpers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The CLI entry point of this checkout. */
export const CLI = path.resolve(process.cwd(), 'src/cli/main.ts');
/** The compiled CLI, what `npm start` and `npx facefleet` run. */
export const BUILT_CLI = path.resolve(process.cwd(), 'dist/src/cli/main.js');

/** Newest modification time under `dir`, ms (0 when empty or missing). */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const st = await fs.stat(path.join(e.parentPath ?? e.path, e.name)).catch(() => null);
    if (st && st.mtimeMs > newest) newest = st.mtimeMs;
  }
  return newest;
}

/** Compile the CLI (`tsc -p tsconfig.json`, as `npm ci` does) unless `dist/` is newer than every source file. */
export async function ensureBuilt(say: (line: string) => void): Promise<void> {
  const built = await fs.stat(BUILT_CLI).then((s) => s.mtimeMs, () => 0);
  if (built > 0 && built >= (await newestMtime(path.resolve(process.cwd(), 'src')))) return;
  say(built > 0 ? 'dist/ is older than src/: rebuilding (tsc -p tsconfig.json)...' : 'no dist/: building (tsc -p tsconfig.json)...');
  execFileSync(process.execPath, [path.resolve(process.cwd(), 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { stdio: 'inherit' });
}

/** A running facefleet process (up or web). */
export interface RunningStack {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the process wrote to stderr (the last ~2 MB). */
  stderr(): string;
  /** Pids of the process's direct children (the local fleet's workers under `up`). */
  childPids(): Promise<number[]>;
  /** SIGTERM, SIGKILL to the group after `graceMs`, then remove the data dir if we made it. */
  stop(graceMs?: number): Promise<void>;
}

/** Direct children of `pid`, read from /proc (Linux). */
export async function childPidsOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may hold spaces, so parse after ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {
      /* the process went away while we looked */
    }
  }
  return out;
}

/** CPU seconds (user + system) `pid` has used so far, from /proc (Linux); NaN when unreadable. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of `pid` and its direct children (e.g. the web processes of `web --web-processes N`). */
export async function cpuSecondsOfGroup(pid: number): Promise<number> {
  const children = await childPidsOf(pid);
  const all = await Promise.all([pid, ...children].map((p) => cpuSecondsOf(p)));
  return all.reduce((sum, x) => sum + (Number.isFinite(x) ? x : 0), 0);
}

/**
 * Linux's autogroup scheduling shares the CPU between sessions, and `detached` gives the stack
 * a session of its own, at nice 0 whatever this process's group runs at. On a shared machine
 * whose sessions run at another nice, the stack then got a different share of the CPU from the
 * engine-only processes it is compared with (they stay in this session): on a 2-core machine at
 * load 20, workers ran 64x64 jobs in 2.5 s each while the engine alone took 0.1 s. Give the
 * stack's group this group's nice. Where there is no autogroup, or it cannot be set, nothing
 * changes.
 */
function shareAutogroupNice(pid: number): void {
  try {
    const nice = /nice\s+(-?\d+)/.exec(fsSync.readFileSync('/proc/self/autogroup', 'utf8'))?.[1];
    if (nice !== undefined) fsSync.writeFileSync(`/proc/${pid}/autogroup`, nice);
  } catch {
    /* no autogroup here, or not allowed: the stack runs at its own group's share */
  }
}

/**
 * Run `facefleet <command> --port 0 --data-dir <tmp> ...args` and wait for its "listening on"
 * line. `env` is added to this process's environment.
 */
export async function startStack(options: {
  command?: 'up' | 'web';
  args?: string[];
  env?: Record<string, string>;
  /** Extra node flags for the started process, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Run src/ through tsx instead of the compiled CLI. */
  tsx?: boolean;
  timeoutMs?: number;
}): Promise<RunningStack> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-bench-'));
  const entry = options.tsx ? ['--import', 'tsx', CLI] : [BUILT_CLI];
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, options.command ?? 'up', '--port', '0', '--data-dir', dataDir, ...(options.args ?? [])], {
    cwd: process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  shareAutogroupNice(proc.pid!);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  let stopping: Promise<void> | undefined;
  const stack: RunningStack = {
    url: '',
    dataDir,
    proc,
    stderr: () => err,
    childPids: () => childPidsOf(proc.pid!),
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM');
          const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        killGroup('SIGKILL');
        await fs.rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const m = /listening on (http:\/\/\S+)/.exec(err);
    if (m) return { ...stack, url: m[1].replace(/\/$/, '') };
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stack.stop();
      throw new Error(`facefleet ${options.command ?? 'up'} did not start:\n${err.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stop `stack` when this process is interrupted, so a Ctrl-C leaves no workers behind. */
export function stopOnSignal(stack: RunningStack): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void stack.stop(5_000).finally(() => process.exit(130));
    });
  }
}
