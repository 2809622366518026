/**
 * The `facefleet` command line as a user runs it: real processes, the real model, a temp
 * data dir. One model load per command, so the cases are grouped to keep the count small.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDir } from '../helpers/images.js';
import { CLI } from '../helpers/stack.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;

function facefleet(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, FACEFLEET_DATA_DIR: dir, FACEFLEET_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const bbt = (name: string, n: number) => dataDir('bbt', name, `${name}${n}.png`);

describe('facefleet CLI', () => {
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-cli-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('prints help listing every command', async () => {
    const run = await facefleet(['--help']);
    expect(run.code).toBe(0);
    for (const cmd of ['up', 'web', 'worker', 'controller', 'status', 'enroll', 'identities', 'recognize', 'verify', 'jobs', 'dlq', 'keys', 'provision', 'teardown']) {
      expect(run.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    }
  });

  it('enrolls, refuses a group shot without --largest, and lists identities', async () => {
    const group = dataDir('bbt', 'bbt1.jpg');
    const run = await facefleet(['enroll', 'amy', bbt('amy', 1), bbt('amy', 2), group]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('amy: 2 faces added, 2 in all');
    expect(run.stderr).toMatch(/bbt1\.jpg: .*\(multiple-faces\); not enrolled/);

    const largest = await facefleet(['enroll', 'penny', bbt('penny', 1), bbt('penny', 2), '--largest']);
    expect(largest.code).toBe(0);

    const bad = await facefleet(['enroll', '../etc', bbt('penny', 3)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/identity name must be/);

    const list = await facefleet(['identities', 'list', '--json']);
    expect(list.code).toBe(0);
    const identities = JSON.parse(list.stdout) as Array<{ name: string; faceCount: number }>;
    expect(identities.map((i) => [i.name, i.faceCount]).sort()).toEqual([
      ['amy', 2],
      ['penny', 2],
    ]);
  }, 120_000);

  it('recognizes a directory as JSON lines, with progress on stderr, skipping bad files with a nonzero exit', async () => {
    const input = path.join(dir, 'in');
    await fs.mkdir(input);
    for (const n of [3, 4]) await fs.copyFile(bbt('amy', n), path.join(input, `amy${n}.png`));
    await fs.copyFile(bbt('sheldon', 3), path.join(input, 'sheldon3.png'));
    await fs.writeFile(path.join(input, 'notes.jpg'), 'this is not an image');
    await fs.writeFile(path.join(input, 'empty.png'), '');

    const run = await facefleet(['recognize', input, '--json', '--top-k', '2']);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; width: number; faces: Array<{ match: { identity: string } | null; candidates: unknown[]; box: { width: number } }> });
    expect(lines.map((l) => path.basename(l.file))).toEqual(['amy3.png', 'amy4.png', 'sheldon3.png']);
    expect(lines[0].faces[0].match?.identity).toBe('amy');
    expect(lines[0].faces[0].candidates.length).toBeLessThanOrEqual(2);
    expect(lines[0].width).toBe(150);
    expect(lines[2].faces[0].match).toBeNull(); // sheldon is not enrolled: unknown, not the closest stranger
    expect((lines[2].faces[0] as { reason?: string }).reason).toMatch(/^(no-close-identity|ambiguous)$/);
    expect((lines[0].faces[0] as { reason?: string }).reason).toBeUndefined();
    expect(run.stderr).toMatch(/notes\.jpg: .*\(not-an-image\); skipped/);
    expect(run.stderr).toMatch(/empty\.png: .*\(empty-image\); skipped/);
    expect(run.stderr).toMatch(/progress: 5\/5 images/);
    expect(run.stderr).toContain('2 files failed');

    const human = await facefleet(['recognize', bbt('penny', 4), '--threshold', '0.6']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/penny4\.png \(150x150\): 1 face\n\s+face 1: penny \(distance/);

    const dirAsImage = await facefleet(['recognize', path.join(dir, 'no-such-file.png')]);
    expect(dirAsImage.code).toBe(1);
    expect(dirAsImage.stderr).toMatch(/\(not-a-file\)/);

    const badFlag = await facefleet(['recognize', bbt('penny', 4), '--top-k', 'abc']);
    expect(badFlag.code).not.toBe(0);
    expect(badFlag.stderr).toMatch(/--top-k must be an integer/);
  }, 180_000);

  it('verifies two images: same person and different people', async () => {
    const same = await facefleet(['verify', bbt('amy', 3), bbt('amy', 4), '--json']);
    expect(same.code).toBe(0);
    const s = JSON.parse(same.stdout) as { distance: number; same: boolean; threshold: number };
    expect(s.same).toBe(true);
    expect(s.distance).toBeLessThan(0.6);
    const diff = await facefleet(['verify', bbt('amy', 3), bbt('raj', 3)]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/^different people: distance \d\.\d{4} \(threshold 0\.61\)$/m); // verify's own 1:1 default
    const strict = await facefleet(['verify', bbt('amy', 3), bbt('amy', 4), '--json', '--threshold', String(Math.max(0.01, s.distance - 0.01))], { FACEFLEET_THRESHOLD: '1.9' });
    expect(JSON.parse(strict.stdout)).toMatchObject({ same: false, threshold: Math.max(0.01, s.distance - 0.01) });
  }, 120_000);

  it('creates, lists and revokes API keys without ever printing a stored secret', async () => {
    const created = await facefleet(['keys', 'create', '--role', 'operator', '--name', 'ops']);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^ff_[0-9a-f]+_[A-Za-z0-9_-]+$/);
    const list = await facefleet(['keys', 'list', '--json']);
    const keys = JSON.parse(list.stdout) as Array<{ id: string; role: string; name?: string; revokedAt?: string }>;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ role: 'operator', name: 'ops' });
    expect(list.stdout).not.toContain(key.split('_')[2]);
    const wrongRole = await facefleet(['keys', 'create', '--role', 'admin']);
    expect(wrongRole.code).toBe(1);
    const revoked = await facefleet(['keys', 'revoke', keys[0].id]);
    expect(revoked.code).toBe(0);
    const after = JSON.parse((await facefleet(['keys', 'list', '--json'])).stdout) as Array<{ revokedAt?: string }>;
    expect(after[0].revokedAt).toBeTruthy();
  }, 60_000);

  it('shows status and refuses a replay without a selector', async () => {
    const status = await facefleet(['status', '--json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { queue: { visible: number }; jobs: Record<string, number> };
    expect(s.queue.visible).toBe(0);
    expect(s.jobs.done).toBe(0);
    const replay = await facefleet(['dlq', 'replay']);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/exactly one of them/);
    const show = await facefleet(['jobs', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/no job/);
  }, 60_000);
});
