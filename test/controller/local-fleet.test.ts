import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetUnavailableError } from '../../src/controller/errors.js';
import { createController } from '../../src/controller/controller.js';
import { createLocalFleet, type LocalFleet } from '../../src/controller/local-fleet.js';
import { silentLogger } from '../../src/log.js';

/** A stand-in for the real worker: says ready over IPC, then idles; STANDIN_MODE varies it. */
const STANDIN = `
const mode = process.env.STANDIN_MODE ?? 'normal';
const out = process.env.STANDIN_OUT;
if (out) require('node:fs').appendFileSync(out, process.pid + ' ' + process.env.FACEFLEET_WORKER_ID + '\\n');
process.on('SIGTERM', () => {
  if (mode === 'stubborn') return;
  setTimeout(() => process.exit(0), 20);
});
if (mode !== 'never-ready') setTimeout(() => process.send({ type: 'ready', workerId: process.env.FACEFLEET_WORKER_ID }), 50);
if (mode === 'crash') setTimeout(() => process.exit(3), 200);
// Reports finished jobs as the real worker does, plus malformed reports the fleet must ignore.
if (mode === 'settles') setTimeout(() => {
  process.send({ type: 'job-settled', jobId: 42 });
  process.send({ type: 'job-settled' });
  process.send('job-settled');
  process.send({ type: 'job-settled', jobId: 'job-1' });
  process.send({ type: 'job-settled', jobId: 'job-2' });
}, 100);
// Only the first child crashes: the marker file says one already did.
if (mode === 'crash-once') {
  const marker = out + '.crashed';
  if (!require('node:fs').existsSync(marker)) {
    require('node:fs').writeFileSync(marker, '');
    setTimeout(() => process.exit(4), 200);
  }
}
// Launched retiring: the real worker takes what waits and exits; this one just exits.
if (process.env.FACEFLEET_RETIRE === '1') setTimeout(() => process.exit(75), 150);
// Asked to retire: finish up, then exit cleanly, as the real worker does when the queue is empty.
process.on('message', (m) => {
  if (m && m.type === 'retire') {
    if (out) require('node:fs').appendFileSync(out, 'retire ' + process.pid + '\\n');
    setTimeout(() => process.exit(mode === 'retire-fails' ? 5 : 75), 100);
  }
});
setInterval(() => {}, 1000);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('local fleet', () => {
  let dir: string;
  let script: string;
  let out: string;
  let fleet: LocalFleet | undefined;
  const pids: number[] = [];

  const make = (mode: string, extra: { stopTimeoutMs?: number; readyTimeoutMs?: number; onJobSettled?: (jobId: string) => void } = {}) => {
    fleet = createLocalFleet({
      command: [process.execPath, script],
      env: { ...process.env, STANDIN_MODE: mode, STANDIN_OUT: out },
      log: silentLogger(),
      stopTimeoutMs: extra.stopTimeoutMs ?? 5_000,
      ...(extra.readyTimeoutMs !== undefined ? { readyTimeoutMs: extra.readyTimeoutMs } : {}),
      onJobSettled: extra.onJobSettled,
    });
    return fleet;
  };
  const pidOf = (id: string) => Number(id.replace('local-', ''));

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    script = path.join(dir, 'standin.cjs');
    out = path.join(dir, 'spawned.txt');
    await fs.writeFile(script, STANDIN);
  });

  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
    // No process may outlive its test.
    for (const pid of pids.splice(0)) expect(alive(pid)).toBe(false);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('spawns pending workers that turn running when ready, each with its own worker id', async () => {
    const f = make('normal');
    const started = await f.launch(2);
    expect(started).toHaveLength(2);
    pids.push(...started.map((i) => pidOf(i.id)));
    for (const i of started) {
      expect(i.id).toMatch(/^local-\d+$/);
      expect(i.state).toBe('pending');
    }
    await until(async () => (await f.list()).every((i) => i.state === 'running'), 'workers ready');
    const listed = await f.list();
    expect(listed.map((i) => i.id).sort()).toEqual(started.map((i) => i.id).sort());
    // The worker id each child was given is the one the fleet reports for it.
    const lines = (await fs.readFile(out, 'utf8')).trim().split('\n').map((l) => l.split(' '));
    for (const [pid, workerId] of lines) {
      expect(listed.find((i) => i.id === `local-${pid}`)?.workerId).toBe(workerId);
    }
    expect(new Set(lines.map((l) => l[1])).size).toBe(2);
  });

  it('stops gracefully: stopping, then gone from the list, process exited', async () => {
    const f = make('normal');
    const [a, b] = await f.launch(2);
    pids.push(pidOf(a.id), pidOf(b.id));
    await f.stop([a.id, 'local-999999999']);
    expect((await f.list()).find((i) => i.id === a.id)?.state).toBe('stopping');
    await until(async () => !(await f.list()).some((i) => i.id === a.id), 'stopped worker gone');
    await until(() => !alive(pidOf(a.id)), 'process exit');
    expect((await f.list()).map((i) => i.id)).toEqual([b.id]);
    expect(f.crashes()).toBe(0);
  });

  it('kills a worker that ignores SIGTERM after the stop timeout', async () => {
    const f = make('stubborn', { stopTimeoutMs: 300 });
    const [a] = await f.launch(1);
    pids.push(pidOf(a.id));
    await until(async () => (await f.list())[0]?.state === 'running', 'ready');
    await f.stop([a.id]);
    await until(async () => (await f.list()).length === 0, 'killed');
    expect(alive(pidOf(a.id))).toBe(false);
  });

  it('detects a worker that exits on its own and drops it from the list', async () => {
    const f = make('crash');
    const [a] = await f.launch(1);
    pids.push(pidOf(a.id));
    await until(async () => (await f.list()).length === 0, 'crash detected');
    expect(f.crashes()).toBe(1);
  });

  it('retires a worker over IPC: it exits on its own, which is not a crash', async () => {
    const f = make('normal');
    const [a, b] = await f.launch(2);
    pids.push(pidOf(a.id), pidOf(b.id));
    await until(async () => (await f.list()).every((i) => i.state === 'running'), 'ready');
    await f.retire([a.id, 'local-999999999']);
    // Asked twice: the worker hears it once.
    await f.retire([a.id]);
    // It keeps running (and counts as capacity) until it exits by itself.
    expect((await f.list()).find((i) => i.id === a.id)?.state).toBe('running');
    await until(async () => !(await f.list()).some((i) => i.id === a.id), 'retired worker gone');
    await until(() => !alive(pidOf(a.id)), 'process exit');
    expect((await f.list()).map((i) => i.id)).toEqual([b.id]);
    expect(f.crashes()).toBe(0);
    const retires = (await fs.readFile(out, 'utf8')).split('\n').filter((l) => l.startsWith('retire '));
    expect(retires).toEqual([`retire ${pidOf(a.id)}`]);
  });

  it('launches workers retiring when asked: flagged in the list, and their exit is not a crash', async () => {
    const f = make('normal');
    const started = await f.launch(3, { retire: 2 });
    pids.push(...started.map((i) => pidOf(i.id)));
    expect(started.map((i) => i.retiring === true)).toEqual([true, true, false]);
    await until(async () => (await f.list()).length === 1, 'retiring workers gone');
    expect((await f.list()).map((i) => i.id)).toEqual([started[2].id]);
    expect(f.crashes()).toBe(0);
  });

  it('counts a retiring worker that exits with an error as a crash', async () => {
    const f = make('retire-fails');
    const [a] = await f.launch(1);
    pids.push(pidOf(a.id));
    await until(async () => (await f.list())[0]?.state === 'running', 'ready');
    await f.retire([a.id]);
    await until(async () => (await f.list()).length === 0, 'exit detected');
    expect(f.crashes()).toBe(1);
  });

  it('relays the jobs a worker reports finished, and ignores malformed reports', async () => {
    const settled: string[] = [];
    const f = make('settles', { onJobSettled: (id) => settled.push(id) });
    await f.launch(1);
    await until(() => settled.length === 2, 'two reports');
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toEqual(['job-1', 'job-2']);
    expect((await f.list())[0]?.state).toBe('running');
    expect(f.crashes()).toBe(0);
  });

  it('kills and drops a worker that never gets ready', async () => {
    const f = make('never-ready', { readyTimeoutMs: 200 });
    const [a] = await f.launch(1);
    pids.push(pidOf(a.id));
    await until(async () => (await f.list()).length === 0, 'dropped');
    expect(alive(pidOf(a.id))).toBe(false);
  });

  it('fails a launch whose command cannot start', async () => {
    fleet = createLocalFleet({ command: [path.join(dir, 'no-such-binary')], log: silentLogger() });
    await expect(fleet.launch(2)).rejects.toBeInstanceOf(FleetUnavailableError);
    expect(await fleet.list()).toEqual([]);
  });

  it('close() stops every child and refuses further launches', async () => {
    const f = make('normal');
    const started = await f.launch(3);
    pids.push(...started.map((i) => pidOf(i.id)));
    await f.close();
    expect(await f.list()).toEqual([]);
    for (const i of started) expect(alive(pidOf(i.id))).toBe(false);
    await expect(f.launch(1)).rejects.toBeInstanceOf(FleetUnavailableError);
  });

  it('with the controller: a crashed worker is replaced on the next tick', async () => {
    const f = make('crash-once');
    const controller = createController({
      fleet: f,
      queue: { depth: async () => ({ visible: 0, inFlight: 0, delayed: 0 }) },
      registry: { list: async () => [] },
      config: { minWorkers: 1, maxWorkers: 2, idleSeconds: 30, intervalSeconds: 5 },
      log: silentLogger(),
    });
    await controller.tick();
    const [first] = await f.list();
    pids.push(pidOf(first.id));
    await until(() => f.crashes() === 1, 'first worker crashed');
    expect(await f.list()).toEqual([]);
    await controller.tick();
    const [second] = await f.list();
    expect(second.id).not.toBe(first.id);
    pids.push(pidOf(second.id));
    await until(async () => (await f.list())[0]?.state === 'running', 'replacement ready');
    await controller.tick();
    expect((await f.list()).map((i) => i.id)).toEqual([second.id]);
  });
});
