import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, parseDuration } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { sweepRetention, type RetentionState } from '../../src/jobs/retention.js';
import type { JobRecord, JobState } from '../../src/jobs/types.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { aJob } from '../helpers/builders.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
const NOW = new Date(Date.UTC(2026, 5, 1, 12));
const RETENTION = { inputRetentionSeconds: 24 * HOUR, jobRetentionSeconds: 30 * DAY, now: NOW };

describe('retention sweep (fake time)', () => {
  let dir: string;
  let stores: LocalStores;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-retention-'));
    stores = openLocalStores({ dataDir: dir });
  });
  afterEach(async () => {
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A job in `state` that last changed `agoSeconds` before NOW, with its input stored. */
  async function job(state: JobState, agoSeconds: number): Promise<JobRecord> {
    const id = randomUUID();
    const record = aJob({
      id,
      state,
      updatedAt: new Date(NOW.getTime() - agoSeconds * 1000).toISOString(),
      input: { key: `inputs/${id.slice(0, 2)}/${id}`, contentType: 'image/jpeg', bytes: 4 },
    });
    await stores.blobs.put(record.input.key, Buffer.from('jpeg'));
    await stores.jobs.create(record);
    return record;
  }
  const hasInput = (r: JobRecord) => stores.blobs.exists(r.input.key);
  const hasRecord = async (r: JobRecord) => (await stores.jobs.get(r.id)) !== null;

  it('deletes a done job\'s input after input retention, and keeps its record', async () => {
    const old = await job('done', 25 * HOUR);
    const young = await job('done', 23 * HOUR);
    expect(await sweepRetention(stores, RETENTION)).toEqual({ inputsDeleted: 1, jobsDeleted: 0 });
    expect(await hasInput(old)).toBe(false);
    expect(await hasRecord(old)).toBe(true);
    expect(await hasInput(young)).toBe(true);
  });

  it('with input retention 0 deletes every done input at the first sweep', async () => {
    const a = await job('done', 1);
    const b = await job('done', 0);
    await sweepRetention(stores, { ...RETENTION, inputRetentionSeconds: 0 });
    expect(await hasInput(a)).toBe(false);
    expect(await hasInput(b)).toBe(false);
  });

  it('keeps a dead-lettered job\'s input past input retention, so replay still works', async () => {
    const dead = await job('dead-lettered', 10 * DAY);
    await sweepRetention(stores, RETENTION);
    expect(await hasInput(dead)).toBe(true);
    expect(await hasRecord(dead)).toBe(true);
  });

  it('leaves running jobs alone however old', async () => {
    const jobs = [await job('uploaded', 40 * DAY), await job('queued', 40 * DAY), await job('processing', 40 * DAY)];
    expect(await sweepRetention(stores, RETENTION)).toEqual({ inputsDeleted: 0, jobsDeleted: 0 });
    for (const r of jobs) {
      expect(await hasInput(r)).toBe(true);
      expect(await hasRecord(r)).toBe(true);
    }
  });

  it('deletes done and dead-lettered records, with their inputs, after job retention', async () => {
    const done = await job('done', 31 * DAY);
    const dead = await job('dead-lettered', 31 * DAY);
    const keptDone = await job('done', 29 * DAY);
    const keptDead = await job('dead-lettered', 29 * DAY);
    const report = await sweepRetention(stores, RETENTION);
    expect(report.jobsDeleted).toBe(2);
    for (const r of [done, dead]) {
      expect(await hasRecord(r)).toBe(false);
      expect(await hasInput(r)).toBe(false);
    }
    expect(await hasRecord(keptDone)).toBe(true);
    expect(await hasRecord(keptDead)).toBe(true);
    expect(await hasInput(keptDead)).toBe(true);
  });

  it('works in batches: each sweep does at most `batch` jobs per state, and later sweeps finish', async () => {
    const expired = [];
    for (let i = 0; i < 5; i++) expired.push(await job('done', 31 * DAY + i));
    const first = await sweepRetention(stores, { ...RETENTION, batch: 2 });
    expect(first.jobsDeleted).toBe(2);
    let total = first.jobsDeleted;
    for (let i = 0; i < 3; i++) total += (await sweepRetention(stores, { ...RETENTION, batch: 2 })).jobsDeleted;
    expect(total).toBe(5);
    for (const r of expired) expect(await hasRecord(r)).toBe(false);
  });

  it('remembers where the input sweep got to, and picks up jobs that end later', async () => {
    const memory: RetentionState = {};
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await job('done', 3 * DAY - i));
    const opts = { ...RETENTION, batch: 2 };
    expect((await sweepRetention(stores, opts, memory)).inputsDeleted).toBe(2);
    expect((await sweepRetention(stores, opts, memory)).inputsDeleted).toBe(2);
    const deletes = vi.spyOn(stores.blobs, 'delete');
    // Whole pages are not looked at again: only the last (short) page is.
    expect((await sweepRetention(stores, opts, memory)).inputsDeleted).toBe(1);
    expect(deletes.mock.calls.map(([key]) => key)).toEqual([jobs[4]!.input.key]);
    for (const r of jobs) expect(await hasInput(r)).toBe(false);
    const later = await job('done', 25 * HOUR);
    await sweepRetention(stores, opts, memory);
    expect(await hasInput(later)).toBe(false);
  });
});

describe('retention settings', () => {
  it('parses durations with a unit, plain seconds and 0', () => {
    expect(parseDuration('24h', 'x', 1)).toBe(86_400);
    expect(parseDuration('30m', 'x', 1)).toBe(1800);
    expect(parseDuration('90s', 'x', 1)).toBe(90);
    expect(parseDuration('7d', 'x', 1)).toBe(7 * 86_400);
    expect(parseDuration('45', 'x', 1)).toBe(45);
    expect(parseDuration('0', 'x', 1)).toBe(0);
    expect(parseDuration(undefined, 'x', 5)).toBe(5);
    for (const bad of ['-1h', '1w', 'soon', '1h30m', 'h']) expect(() => parseDuration(bad, 'x', 1)).toThrow(ConfigError);
  });

  it('defaults to 24 h for inputs and 30 days for jobs, and reads the environment', () => {
    const defaults = loadConfig({}, {});
    expect(defaults.web.inputRetentionSeconds).toBe(86_400);
    expect(defaults.web.jobRetentionSeconds).toBe(30 * 86_400);
    const set = loadConfig({}, { FACEFLEET_INPUT_RETENTION: '0', FACEFLEET_JOB_RETENTION: '7d' });
    expect(set.web.inputRetentionSeconds).toBe(0);
    expect(set.web.jobRetentionSeconds).toBe(7 * 86_400);
  });
});
