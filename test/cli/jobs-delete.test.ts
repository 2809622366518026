/** `facefleet jobs delete <id>` as a user runs it: a real process on a temp data dir. */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStores } from '../../src/store/local/index.js';
import { aJob } from '../helpers/builders.js';
import { CLI } from '../helpers/stack.js';

let dir: string;

function facefleet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, FACEFLEET_DATA_DIR: dir, FACEFLEET_LOG_LEVEL: 'warn' },
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

describe('facefleet jobs delete', () => {
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-cli-delete-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('deletes the job\'s input and record; an unknown id fails with exit 1', async () => {
    const id = randomUUID();
    const job = aJob({ id, state: 'done', input: { key: `inputs/${id.slice(0, 2)}/${id}`, contentType: 'image/jpeg', bytes: 4 } });
    let stores = openLocalStores({ dataDir: dir });
    await stores.blobs.put(job.input.key, Buffer.from('jpeg'));
    await stores.jobs.create(job);
    await stores.close();

    const run = await facefleet(['jobs', 'delete', id]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`deleted ${id}`);

    stores = openLocalStores({ dataDir: dir });
    try {
      expect(await stores.jobs.get(id)).toBeNull();
      expect(await stores.blobs.exists(job.input.key)).toBe(false);
    } finally {
      await stores.close();
    }
    const again = await facefleet(['jobs', 'delete', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no job ${id}`);
  }, 60_000);
});
