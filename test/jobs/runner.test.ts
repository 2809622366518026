import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createJobRunner, type NewJob } from '../../src/jobs/runner.js';
import { JobEffectError, InvalidJobRequestError, CorruptJobSnapshotError } from '../../src/jobs/errors.js';
import { jobContext } from '../../src/jobs/view.js';
import { StoreUnavailableError, StorePermanentError, VersionConflictError, AlreadyExistsError, JobNotSentError } from '../../src/store/errors.js';
import { createThenSendIntake } from '../../src/store/intake.js';
import type { JobIntake, JobQueue, JobStore, Stores } from '../../src/store/ports.js';
import { createJobEffects } from '../../src/jobs/effects.js';
import { withFaults } from '../../src/store/faults.js';
import type { JobRecord } from '../../src/jobs/types.js';
import { InMemoryJobStore, aResult, deferred, makeJobRecord, permanent, recordingEffects, retryable } from '../helpers/jobs.js';
import { at } from '../helpers/builders.js';

const newJob = (overrides: Partial<NewJob> = {}): NewJob => ({
  kind: 'recognize',
  input: { key: 'jobs/x/input', contentType: 'image/jpeg', bytes: 10 },
  options: { topK: 3, threshold: 0.6 },
  maxAttempts: 3,
  ...overrides,
});

function clockFrom(seconds = 0) {
  let t = seconds;
  return {
    now: () => new Date(at(t)),
    set: (s: number) => {
      t = s;
    },
  };
}

describe('job runner', () => {
  let store: InMemoryJobStore;
  let effects: ReturnType<typeof recordingEffects>;
  let clock: ReturnType<typeof clockFrom>;

  beforeEach(() => {
    store = new InMemoryJobStore();
    effects = recordingEffects();
    clock = clockFrom(0);
  });

  const runner = (s: JobStore = store, e = effects) => createJobRunner({ store: s, effects: e, log: silentLogger(), now: clock.now });

  it('creates a record in uploaded at version 0 with a generated id and the creation history entry', async () => {
    const record = await runner().create(newJob());
    expect(record.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(record).toMatchObject({ version: 0, state: 'uploaded', createdAt: at(0), updatedAt: at(0), kind: 'recognize' });
    expect(store.records.get(record.id)).toEqual(record);
    expect(jobContext(record)).toMatchObject({ id: record.id, attempts: 0, maxAttempts: 3 });
    expect(jobContext(record).history).toEqual([{ at: at(0), from: null, to: 'uploaded', event: 'CREATE', attempt: 0 }]);
    expect(effects.calls).toEqual([]);
  });

  it('stores a JSON-clean snapshot (no undefined anywhere: DynamoDB refuses them)', async () => {
    const r = runner();
    const { id } = await r.create(newJob({ id: 'j' }));
    await r.dispatch(id, { type: 'ENQUEUE' });
    await r.dispatch(id, { type: 'START', workerId: 'w1', leaseSeconds: 30 });
    const { record } = await r.dispatch(id, { type: 'FAIL', workerId: 'w1', error: retryable() });
    const hasUndefined = (v: unknown): boolean =>
      v === undefined || (typeof v === 'object' && v !== null && Object.values(v).some(hasUndefined));
    expect(hasUndefined(record!.snapshot)).toBe(false);
    expect(JSON.parse(JSON.stringify(record!.snapshot))).toEqual(record!.snapshot);
  });

  it('keeps the id it is given and refuses a duplicate', async () => {
    const r = runner();
    expect((await r.create(newJob({ id: 'fixed' }))).id).toBe('fixed');
    await expect(r.create(newJob({ id: 'fixed' }))).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('refuses a maxAttempts below 1', async () => {
    await expect(runner().create(newJob({ maxAttempts: 0 }))).rejects.toBeInstanceOf(InvalidJobRequestError);
  });

  it('dispatches through the whole life of a job, stamping at from the clock and running each effect', async () => {
    const r = runner();
    const { id } = await r.create(newJob({ id: 'j' }));
    clock.set(1);
    let res = await r.dispatch(id, { type: 'ENQUEUE' });
    expect(res).toMatchObject({ changed: true, record: { state: 'queued', version: 1, updatedAt: at(1) } });
    clock.set(2);
    res = await r.dispatch(id, { type: 'START', workerId: 'w1', leaseSeconds: 30, receipt: 'r1' });
    expect(res.record?.state).toBe('processing');
    expect(jobContext(res.record!).leaseUntil).toBe(at(32));
    clock.set(3);
    res = await r.dispatch(id, { type: 'SUCCEED', workerId: 'w1', result: aResult(), receipt: 'r1' });
    expect(res).toMatchObject({ changed: true, record: { state: 'done', version: 3 } });
    expect(effects.calls).toEqual([
      { type: 'enqueue', params: { jobId: 'j' } },
      { type: 'announce', params: { jobId: 'j', state: 'done' } },
      { type: 'acknowledge', params: { jobId: 'j', receipt: 'r1' } },
    ]);
  });

  it('reports changed: false, saves nothing and runs no effect for an event the state refuses', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'done', version: 4 }));
    const res = await runner().dispatch('j', { type: 'SUCCEED', workerId: 'w1', result: aResult(), receipt: 'r9' });
    expect(res.changed).toBe(false);
    expect(res.record?.version).toBe(4);
    expect(store.calls.filter((c) => c.startsWith('save'))).toEqual([]);
    expect(effects.calls).toEqual([]);
  });

  it('returns record null for an unknown job', async () => {
    expect(await runner().dispatch('nope', { type: 'ENQUEUE' })).toEqual({ record: null, changed: false });
  });

  it('saves with the version it loaded (save-if-version)', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'queued', version: 7 }));
    await runner().dispatch('j', { type: 'SWEEP' });
    expect(store.calls).toEqual(['get j', 'save j@7']);
    expect(store.records.get('j')?.version).toBe(8);
  });

  it('runs effects only after the save has succeeded', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'uploaded' }));
    const saving = deferred();
    store.beforeSave = () => saving.promise;
    const pending = runner().dispatch('j', { type: 'ENQUEUE' });
    await new Promise((r) => setTimeout(r, 5));
    expect(effects.calls).toEqual([]);
    saving.resolve();
    await pending;
    expect(effects.calls).toEqual([{ type: 'enqueue', params: { jobId: 'j' } }]);
  });

  it('runs no effect when the save fails', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'uploaded' }));
    store.beforeSave = async () => {
      throw new StoreUnavailableError('down');
    };
    await expect(runner().dispatch('j', { type: 'ENQUEUE' })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(effects.calls).toEqual([]);
    expect(store.records.get('j')?.state).toBe('uploaded');
  });

  it('throws JobEffectError carrying the saved record when an effect fails; the state stands', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'uploaded' }));
    const failing = { ...effects, enqueue: async () => { throw new StoreUnavailableError('queue down'); } };
    const err = await runner(store, failing).dispatch('j', { type: 'ENQUEUE' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobEffectError);
    expect((err as JobEffectError).action).toBe('enqueue');
    expect((err as JobEffectError).retryable).toBe(true);
    expect((err as JobEffectError).record.state).toBe('queued');
    expect(store.records.get('j')?.state).toBe('queued');
  });

  it('two runners racing on one job produce exactly one transition (in-memory store, forced interleaving)', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'queued' }));
    // Both runners load before either saves.
    let loaded = 0;
    const bothLoaded = deferred();
    store.afterGet = async () => {
      if (++loaded === 2) bothLoaded.resolve();
      if (loaded <= 2) await bothLoaded.promise;
    };
    const [a, b] = await Promise.all([
      runner().dispatch('j', { type: 'START', workerId: 'wa', leaseSeconds: 30 }),
      runner().dispatch('j', { type: 'START', workerId: 'wb', leaseSeconds: 30 }),
    ]);
    expect([a.changed, b.changed].sort()).toEqual([false, true]);
    const saved = store.records.get('j')!;
    const context = jobContext(saved);
    expect(saved.version).toBe(1);
    expect(context.attempts).toBe(1);
    expect(context.history.filter((h) => h.event === 'START')).toHaveLength(1);
    // The loser reloaded after its conflict and then found the job already processing.
    expect(store.calls.filter((c) => c === 'get j')).toHaveLength(3);
  });

  it('gives up with VersionConflictError when the job keeps moving', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'queued' }));
    store.beforeSave = async () => {
      throw new VersionConflictError('moved');
    };
    const r = createJobRunner({ store, effects, log: silentLogger(), now: clock.now, maxConflictRetries: 2 });
    await expect(r.dispatch('j', { type: 'SWEEP' })).rejects.toBeInstanceOf(VersionConflictError);
    expect(store.calls.filter((c) => c === 'get j')).toHaveLength(3);
    expect(effects.calls).toEqual([]);
  });

  it('refuses a record whose snapshot is not a job snapshot', async () => {
    store.seed({ ...makeJobRecord({ id: 'j' }), snapshot: { value: 'weird' } });
    await expect(runner().dispatch('j', { type: 'SWEEP' })).rejects.toBeInstanceOf(CorruptJobSnapshotError);
  });

  it('drives FAIL to scheduleRetry and then to dead-lettered with acknowledge', async () => {
    store.seed(makeJobRecord({ id: 'j', state: 'processing', maxAttempts: 2 }));
    const r = runner();
    clock.set(10);
    await r.dispatch('j', { type: 'FAIL', workerId: 'w1', error: retryable(), receipt: 'r1' });
    clock.set(100);
    await r.dispatch('j', { type: 'START', workerId: 'w2', leaseSeconds: 30, receipt: 'r2' });
    const { record } = await r.dispatch('j', { type: 'FAIL', workerId: 'w2', error: permanent(), receipt: 'r2' });
    expect(record?.state).toBe('dead-lettered');
    expect(effects.calls).toEqual([
      { type: 'scheduleRetry', params: { jobId: 'j', receipt: 'r1', attempt: 1 } },
      { type: 'announce', params: { jobId: 'j', state: 'dead-lettered' } },
      { type: 'acknowledge', params: { jobId: 'j', receipt: 'r2' } },
    ]);
  });
});

describe('job runner on the local SQLite store', () => {
  let dir: string;
  let close: () => Promise<void>;
  let jobs: JobStore;
  let queue: JobQueue;
  let stores: Stores;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
    const { openLocalStores } = await import('../../src/store/local/index.js');
    stores = openLocalStores({ dataDir: dir, log: silentLogger() });
    jobs = stores.jobs;
    queue = stores.queue;
    close = () => stores.close();
  });

  const localRunner = (intake: JobIntake | null = stores.intake, now = clockFrom(0).now) =>
    createJobRunner({ store: jobs, effects: createJobEffects({ queue, log: silentLogger(), retryBaseSeconds: 1 }), ...(intake ? { intake } : {}), log: silentLogger(), now });

  it('submit stores the job queued with its message in one write: the same record create + dispatch make', async () => {
    const clock = clockFrom(0);
    let t = 0;
    const ticking = () => {
      clock.set(t++);
      return clock.now();
    };
    const record = await localRunner(stores.intake, ticking).submit(newJob({ id: 'one' }));
    expect(await jobs.get('one')).toEqual(record);
    const messages = await queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 30 });
    expect(messages.map((m) => m.body)).toEqual([{ jobId: 'one' }]);

    t = 0;
    const twoStep = localRunner(stores.intake, ticking);
    await twoStep.create(newJob({ id: 'two' }));
    const { record: queued } = await twoStep.dispatch('two', { type: 'ENQUEUE' });
    // Identical but for the id and the version (one write instead of two).
    const comparable = (r: JobRecord) => JSON.parse(JSON.stringify(r).replaceAll('"two"', '"one"')) as JobRecord;
    expect({ ...comparable(queued!), version: 0 }).toEqual(record);
    expect(record.state).toBe('queued');
    expect(jobContext(record).history.map((h) => h.event)).toEqual(['CREATE', 'ENQUEUE']);
  });

  it('submit writes neither the job nor the message when the job exists', async () => {
    const r = localRunner();
    await r.create(newJob({ id: 'dup' }));
    await expect(r.submit(newJob({ id: 'dup' }))).rejects.toBeInstanceOf(AlreadyExistsError);
    expect((await jobs.get('dup'))?.state).toBe('uploaded');
    expect((await queue.depth()).visible).toBe(0);
  });

  it('submit goes through the intake it is given: create-then-send over a failing queue leaves the job queued and says JobNotSentError', async () => {
    const r = localRunner(createThenSendIntake(jobs, withFaults(queue, { send: { times: 1 } })));
    const err = await r.submit(newJob({ id: 'unsent' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobNotSentError);
    expect((await jobs.get('unsent'))?.state).toBe('queued');
    expect((await queue.depth()).visible).toBe(0);
  });

  it('submit refuses without an intake, and writes nothing', async () => {
    await expect(localRunner(null).submit(newJob({ id: 'nowhere' }))).rejects.toBeInstanceOf(StorePermanentError);
    expect(await jobs.get('nowhere')).toBeNull();
  });

  afterEach(async () => {
    await close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('lets exactly one of two racing runners start the job', async () => {
    const effects = recordingEffects();
    const base = createJobRunner({ store: jobs, effects, log: silentLogger() });
    const { id } = await base.create(newJob());
    await base.dispatch(id, { type: 'ENQUEUE' });

    // Hold both loads until both have read version 1, so both decide on the same snapshot.
    let loads = 0;
    const bothLoaded = deferred();
    const gated: JobStore = Object.create(jobs, {
      get: {
        value: async (jobId: string): Promise<JobRecord | null> => {
          const record = await jobs.get(jobId);
          if (++loads <= 2) {
            if (loads === 2) bothLoaded.resolve();
            await bothLoaded.promise;
          }
          return record;
        },
      },
      save: { value: (record: JobRecord, v: number) => jobs.save(record, v) },
    });
    const a = createJobRunner({ store: gated, effects, log: silentLogger() });
    const b = createJobRunner({ store: gated, effects, log: silentLogger() });
    const results = await Promise.all([
      a.dispatch(id, { type: 'START', workerId: 'wa', leaseSeconds: 30 }),
      b.dispatch(id, { type: 'START', workerId: 'wb', leaseSeconds: 30 }),
    ]);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const stored = (await jobs.get(id))!;
    expect(stored.version).toBe(2);
    expect(stored.state).toBe('processing');
    expect(jobContext(stored).attempts).toBe(1);
    expect(jobContext(stored).history.filter((h) => h.event === 'START')).toHaveLength(1);
    expect(loads).toBe(3);
  });
});
