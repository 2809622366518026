import { afterEach, describe, expect, it } from 'vitest';
import { AlreadyExistsError, JobNotSentError } from '../../src/store/errors.js';
import type { JobIntake, JobQueue, JobStore } from '../../src/store/ports.js';
import { aJob } from '../helpers/builders.js';

export interface JobIntakeHarness {
  intake: JobIntake;
  /** The job store and queue the intake writes to, to read back what it wrote. */
  jobs: JobStore;
  queue: JobQueue;
  /**
   * True when a job's record and its messages are one write (SQLite): a failed send leaves no
   * record. False for create-then-send: the record stands and the intake throws JobNotSentError.
   */
  atomic: boolean;
  cleanup(): Promise<void>;
}

export interface JobIntakeMakeOptions {
  /** Every send of a message by this intake fails (the queue is down). */
  failSends?: boolean;
}

const receiveAll = async (queue: JobQueue) => (await queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 30 })).map((m) => m.body);

/** The JobIntake contract. `make` gives a fresh intake over empty stores. */
export function jobIntakeContract(name: string, make: (options: JobIntakeMakeOptions) => Promise<JobIntakeHarness>): void {
  describe(`JobIntake contract: ${name}`, () => {
    let h: JobIntakeHarness | undefined;
    const start = async (options: JobIntakeMakeOptions = {}) => (h = await make(options));
    afterEach(async () => {
      await h?.cleanup();
      h = undefined;
    });

    it('stores the record and sends its message', async () => {
      const { intake, jobs, queue } = await start();
      const job = aJob();
      await intake.accept({ record: job, messages: [{ jobId: job.id }] });
      expect(await jobs.get(job.id)).toEqual(job);
      expect(await receiveAll(queue)).toEqual([{ jobId: job.id }]);
    });

    it('takes many jobs at once, each with its own message', async () => {
      const { intake, jobs, queue } = await start();
      const many = Array.from({ length: 5 }, () => aJob());
      await Promise.all(many.map((record) => intake.accept({ record, messages: [{ jobId: record.id }] })));
      for (const job of many) expect(await jobs.get(job.id)).toEqual(job);
      const got = [...(await receiveAll(queue)), ...(await receiveAll(queue))].map((m) => m.jobId);
      expect(got.sort()).toEqual(many.map((j) => j.id).sort());
    });

    it('refuses a job that exists with AlreadyExistsError, sending nothing and keeping the first record', async () => {
      const { intake, jobs, queue } = await start();
      const first = aJob();
      await jobs.create(first);
      await expect(intake.accept({ record: { ...first, state: 'uploaded' }, messages: [{ jobId: first.id }] })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await jobs.get(first.id)).toEqual(first);
      expect(await receiveAll(queue)).toEqual([]);
    });

    it('stores a job without messages and sends nothing for it', async () => {
      const { intake, jobs, queue } = await start();
      const job = aJob();
      await intake.accept({ record: job, messages: [] });
      expect(await jobs.get(job.id)).toEqual(job);
      expect(await receiveAll(queue)).toEqual([]);
    });

    it('when the send fails: no record where the write is one, else the record stands and JobNotSentError says so', async () => {
      const { intake, jobs, atomic } = await start({ failSends: true });
      const job = aJob();
      const err = await intake.accept({ record: job, messages: [{ jobId: job.id }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      if (atomic) {
        expect(err).not.toBeInstanceOf(JobNotSentError);
        expect(await jobs.get(job.id)).toBeNull();
      } else {
        expect(err).toBeInstanceOf(JobNotSentError);
        expect((err as JobNotSentError).retryable).toBe(true);
        expect(await jobs.get(job.id)).toEqual(job);
      }
    });
  });
}
