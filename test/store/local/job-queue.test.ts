import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteJobQueue, SqliteJobStore, acquireDatabase } from '../../../src/store/local/index.js';
import { NotFoundError, StorePermanentError } from '../../../src/store/errors.js';

let dir: string;
const open: SqliteJobQueue[] = [];
let clock = 0;
const now = () => clock;

function queue(options: ConstructorParameters<typeof SqliteJobQueue>[1] = {}): SqliteJobQueue {
  const q = new SqliteJobQueue(acquireDatabase(dir), { now, ...options });
  open.push(q);
  return q;
}

const take = (q: SqliteJobQueue, visibilitySeconds = 30, max = 10) => q.receive({ max, waitSeconds: 0, visibilitySeconds });

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
  clock = Date.UTC(2026, 0, 1, 12);
});

afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('SqliteJobQueue on a fake clock', () => {
  it('hides a received message exactly for its visibility timeout', async () => {
    const q = queue();
    await q.send({ jobId: 'j1' });
    const [m] = await take(q, 30);
    expect(m.receiveCount).toBe(1);
    clock += 29_999;
    expect(await take(q)).toEqual([]);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
    clock += 1;
    const [again] = await take(q);
    expect(again.messageId).toBe(m.messageId);
    expect(again.receiveCount).toBe(2);
  });

  it('holds a delayed message until its delay ends, counting it as delayed', async () => {
    const q = queue();
    await q.send({ jobId: 'later' }, { delaySeconds: 60 });
    expect(await take(q)).toEqual([]);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
    clock += 60_000;
    expect(await q.depth()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
    expect((await take(q)).map((m) => m.body.jobId)).toEqual(['later']);
  });

  it('dead-letters on the receive after maxReceiveCount, keeping body, count and times', async () => {
    const q = queue({ maxReceiveCount: 3 });
    const sentAt = clock;
    const id = await q.send({ jobId: 'poison' });
    for (let n = 1; n <= 3; n++) {
      const [m] = await take(q, 10);
      expect(m.receiveCount).toBe(n);
      expect(m.sentAt).toBe(new Date(sentAt).toISOString());
      clock += 10_000;
    }
    expect(await take(q, 10)).toEqual([]);
    expect(await q.deadLetterDepth()).toBe(1);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect((await q.listDeadLetters()).items).toEqual([
      {
        messageId: id,
        body: { jobId: 'poison' },
        receiveCount: 3,
        sentAt: new Date(sentAt).toISOString(),
        deadLetteredAt: new Date(clock).toISOString(),
      },
    ]);
  });

  it('still delivers healthy messages in the receive that dead-letters a spent one', async () => {
    const q = queue({ maxReceiveCount: 1 });
    await q.send({ jobId: 'spent' });
    await take(q, 5);
    clock += 5_000;
    await q.send({ jobId: 'fresh' });
    expect((await take(q)).map((m) => m.body.jobId)).toEqual(['fresh']);
    expect(await q.deadLetterDepth()).toBe(1);
  });

  it('fills a batch past spent messages at the head of the queue', async () => {
    const q = queue({ maxReceiveCount: 1 });
    for (let i = 0; i < 3; i++) await q.send({ jobId: `spent-${i}` });
    await take(q, 1);
    clock += 1_000;
    await q.send({ jobId: 'fresh-1' });
    await q.send({ jobId: 'fresh-2' });
    expect((await take(q, 30, 2)).map((m) => m.body.jobId)).toEqual(['fresh-1', 'fresh-2']);
    expect(await q.deadLetterDepth()).toBe(3);
  });

  it('never returns one message twice in a batch, even with visibility 0', async () => {
    const q = queue();
    await q.send({ jobId: 'only' });
    expect((await take(q, 0)).map((m) => m.body.jobId)).toEqual(['only']);
    const [again] = await take(q, 0);
    expect(again.receiveCount).toBe(2);
  });

  it('pages dead letters oldest first with a cursor', async () => {
    const q = queue({ maxReceiveCount: 1 });
    for (let i = 0; i < 5; i++) await q.send({ jobId: `d${i}` });
    await take(q, 1);
    clock += 1_000;
    await take(q);
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await q.listDeadLetters({ limit: 2, cursor });
      ids.push(...page.items.map((d) => d.body.jobId));
      cursor = page.cursor;
    } while (cursor);
    expect(ids).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
  });

  it('refuses a stale receipt: extend throws NotFoundError, delete leaves the redelivered message alone', async () => {
    const q = queue();
    await q.send({ jobId: 'j' });
    const [first] = await take(q, 10);
    clock += 10_000;
    const [second] = await take(q, 10);
    await expect(q.extend(first.receipt, 60)).rejects.toBeInstanceOf(NotFoundError);
    await q.delete(first.receipt);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
    await q.extend(second.receipt, 60);
    clock += 59_000;
    expect(await take(q)).toEqual([]);
    await q.delete(second.receipt);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    await expect(q.extend(second.receipt, 5)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('treats malformed receipts as unknown', async () => {
    const q = queue();
    await expect(q.extend('garbage', 5)).rejects.toBeInstanceOf(NotFoundError);
    await expect(q.extend('', 5)).rejects.toBeInstanceOf(NotFoundError);
    await expect(q.delete('garbage')).resolves.toBeUndefined();
  });

  it('caps a batch at 10 messages', async () => {
    const q = queue();
    for (let i = 0; i < 15; i++) await q.send({ jobId: `j${i}` });
    expect(await take(q, 30, 50)).toHaveLength(10);
  });

  it('rejects a maxReceiveCount below 1', () => {
    const lease = acquireDatabase(dir);
    try {
      expect(() => new SqliteJobQueue(lease, { maxReceiveCount: 0 })).toThrow(StorePermanentError);
    } finally {
      lease.release();
    }
  });
});

describe('SqliteJobQueue waiting', () => {
  it('wakes a long poll on a send in the same process without waiting for a poll tick', async () => {
    const q = queue({ now: Date.now, pollIntervalMs: 60_000 });
    const started = Date.now();
    const receiving = q.receive({ max: 1, waitSeconds: 10, visibilitySeconds: 30 });
    setTimeout(() => void q.send({ jobId: 'wake' }), 100);
    expect((await receiving).map((m) => m.body.jobId)).toEqual(['wake']);
    expect(Date.now() - started).toBeLessThan(9_000);
  });

  it('ends pending long polls with [] on close', async () => {
    const q = queue({ now: Date.now });
    const receiving = q.receive({ max: 1, waitSeconds: 10, visibilitySeconds: 30 });
    setTimeout(() => void q.close(), 100);
    const started = Date.now();
    expect(await receiving).toEqual([]);
    expect(Date.now() - started).toBeLessThan(9_000);
  });
});

describe('SqliteJobQueue across processes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  function startChild(): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/queue-child.ts', dir, '2'], {
      cwd: process.cwd(),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines = readline.createInterface({ input: child.stdout! });
    let resolveReady!: () => void;
    const ready = new Promise<void>((resolve) => (resolveReady = resolve));
    const result = new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => (line === 'ready' ? resolveReady() : resolve(line)));
      child.on('exit', (code) => reject(new Error(`queue child exited with ${code} before reporting`)));
    });
    return { child, ready, result };
  }

  it('wakes a long poll on a send from another process without waiting for a poll tick', async () => {
    // A poll tick longer than the wait: only the watch on the data dir can end it early.
    const q = queue({ now: Date.now, pollIntervalMs: 60_000 });
    const started = Date.now();
    const receiving = q.receive({ max: 1, waitSeconds: 15, visibilitySeconds: 30 });
    const sender = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/queue-send.ts', dir, 'from-afar'], {
      cwd: process.cwd(),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(sender);
    const exited = new Promise((resolve) => sender.on('exit', resolve));
    expect((await receiving).map((m) => m.body.jobId)).toEqual(['from-afar']);
    expect(Date.now() - started).toBeLessThan(14_000);
    expect(await exited).toBe(0);
  });

  it('delivers each of 200 messages exactly once to two competing processes', async () => {
    const a = startChild();
    const b = startChild();
    await Promise.all([a.ready, b.ready]);
    const q = queue({ now: Date.now });
    const sent = new Set<string>();
    for (let i = 0; i < 200; i++) {
      sent.add(await q.send({ jobId: `job-${i}` }));
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const d = await q.depth();
      if (d.visible + d.inFlight + d.delayed === 0) break;
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    a.child.stdin!.write('stop\n');
    b.child.stdin!.write('stop\n');
    const reports = await Promise.all([a.result, b.result]);
    await Promise.all([a.child, b.child].map((c) => (c.exitCode !== null ? c.exitCode : new Promise((r) => c.on('exit', r)))));
    const deliveries = reports.flatMap((r) => JSON.parse(r) as { messageId: string; receiveCount: number; pid: number }[]);
    expect(deliveries).toHaveLength(200);
    expect(new Set(deliveries.map((d) => d.messageId))).toEqual(sent);
    expect(deliveries.every((d) => d.receiveCount === 1)).toBe(true);
    // Both processes took part, so the claims really did compete.
    expect(new Set(deliveries.map((d) => d.pid)).size).toBe(2);
  });
});

describe('SqliteJobStore.intakeWith', () => {
  it('takes the queue on its own connection, and refuses one on another', async () => {
    const a = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    const b = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    const jobs = new SqliteJobStore(acquireDatabase(a));
    const own = new SqliteJobQueue(acquireDatabase(a));
    const other = new SqliteJobQueue(acquireDatabase(b));
    try {
      expect(jobs.intakeWith(own)).toBeDefined();
      expect(() => jobs.intakeWith(other)).toThrow(StorePermanentError);
    } finally {
      await jobs.close();
      await own.close();
      await other.close();
      await fs.rm(a, { recursive: true, force: true });
      await fs.rm(b, { recursive: true, force: true });
    }
  });
});
