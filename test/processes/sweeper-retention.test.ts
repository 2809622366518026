/** The web tier's sweeper, as `facefleet web` starts it, enforces retention on a real clock. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { startSweeper, type Sweeper } from '../../src/processes/sweeper.js';
import { openServices, type Services } from '../../src/services.js';
import { aJob } from '../helpers/builders.js';

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('sweeper with retention', () => {
  let dir: string;
  let services: Services;
  let sweeper: Sweeper | undefined;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-sweeper-'));
    const config = loadConfig({}, { FACEFLEET_DATA_DIR: dir, FACEFLEET_INPUT_RETENTION: '1h', FACEFLEET_JOB_RETENTION: '2d' });
    services = await openServices(config, silentLogger());
    sweeper = startSweeper(
      { ...services, log: silentLogger() },
      {
        intervalSeconds: 0.05,
        staleSeconds: config.web.sweepStaleSeconds,
        retention: { inputRetentionSeconds: config.web.inputRetentionSeconds, jobRetentionSeconds: config.web.jobRetentionSeconds },
      },
    );
  });
  afterEach(async () => {
    sweeper?.stop();
    await services.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('deletes expired inputs and records, and leaves the young ones', async () => {
    const at = (agoSeconds: number) => new Date(Date.now() - agoSeconds * 1000).toISOString();
    const make = async (ago: number) => {
      const id = randomUUID();
      const job = aJob({ id, state: 'done', updatedAt: at(ago), input: { key: `inputs/${id.slice(0, 2)}/${id}`, contentType: 'image/jpeg', bytes: 4 } });
      await services.blobs.put(job.input.key, Buffer.from('jpeg'));
      await services.jobs.create(job);
      return job;
    };
    const young = await make(60);
    const inputDue = await make(2 * 3600);
    const recordDue = await make(3 * 86_400);
    expect(await until(async () => (await services.jobs.get(recordDue.id)) === null && !(await services.blobs.exists(inputDue.input.key)))).toBe(true);
    expect(await services.jobs.get(inputDue.id)).not.toBeNull();
    expect(await services.blobs.exists(young.input.key)).toBe(true);
    expect(await services.jobs.get(young.id)).not.toBeNull();
  });
});
