/**
 * The job effects: what the runner does with the actions a transition returns, after the
 * transition is saved. A crash between the save and an effect repeats the effect, so each one
 * is idempotent or harmless when repeated (a duplicate message only finds the job no longer
 * `queued`, and its START is refused).
 */
import type { Logger } from '../log.js';
import type { JobActionParams, JobActionType } from '../machines/job.js';
import { NotFoundError } from '../store/errors.js';
import type { BlobStore, JobQueue } from '../store/ports.js';
import type { JobMessage, JobRecord } from './types.js';

/**
 * One handler per effect action of the job machine. The runner passes `record`, the job as the
 * transition saved it; `announce` needs it, the others go by their params alone.
 */
export type JobEffectHandlers = { [K in JobActionType]: (params: JobActionParams[K], record?: JobRecord) => Promise<void> };

/** The longest a queue message can be delayed (SQS's limit; the SQLite queue keeps it too). */
export const MAX_MESSAGE_DELAY_SECONDS = 900;

/**
 * What a finished job is announced to (the webhooks, `src/webhooks/publish.ts`). Idempotent:
 * a crash between the save and this effect makes the job's next delivery repeat it.
 */
export type AnnounceJob = (record: JobRecord, state: JobActionParams['announce']['state']) => Promise<void>;

/** The handlers the runner runs. A new job's first message is not one of them: it goes with the record, through the intake. */
export type JobEffects = JobEffectHandlers;

/** The message `enqueue` sends for a job. */
export function enqueueMessage(params: JobActionParams['enqueue']): JobMessage {
  return { jobId: params.jobId };
}

/** The ceiling of a retry backoff, in seconds: well under SQS's 12 h visibility limit. */
export const MAX_RETRY_BACKOFF_SECONDS = 300;

/**
 * Exponential backoff with full jitter: a whole number of seconds drawn uniformly from
 * [0, min(cap, base * 2^(attempt-1))]. Full jitter spreads retries of jobs that failed
 * together (e.g. a store outage) instead of bringing them back in lockstep.
 * `random` returns [0, 1) like Math.random.
 */
export function retryBackoffSeconds(
  attempt: number,
  baseSeconds: number,
  random: () => number = Math.random,
  capSeconds: number = MAX_RETRY_BACKOFF_SECONDS,
): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const ceiling = Math.min(capSeconds, baseSeconds * 2 ** exponent);
  const draw = Math.floor(random() * (Math.floor(ceiling) + 1));
  return Math.min(Math.max(draw, 0), Math.floor(ceiling));
}

export interface JobEffectsDeps {
  queue: JobQueue;
  log: Logger;
  /** First retry's backoff ceiling in seconds; doubles per attempt up to 300 s. */
  retryBaseSeconds: number;
  /** Random source for the jitter; default Math.random. */
  random?: () => number;
  /** Where `announce` goes. Absent: finished jobs are announced to nobody. */
  announce?: AnnounceJob;
  /**
   * With `markFinished` (S3), a job that ends `done` has its input marked for the bucket's
   * lifecycle rule; a dead-lettered one's is left unmarked, for a replay.
   */
  blobs?: Pick<BlobStore, 'markFinished'>;
  /** Clock for `retryAt` delays. Default: the system clock. */
  now?: () => Date;
}

export function createJobEffects(deps: JobEffectsDeps): JobEffects {
  const { queue, log, retryBaseSeconds } = deps;
  const random = deps.random ?? Math.random;
  const now = deps.now ?? (() => new Date());
  return {
    async enqueue(params) {
      const { jobId, delaySeconds } = params;
      const messageId = await queue.send(enqueueMessage(params), delaySeconds ? { delaySeconds: Math.min(MAX_MESSAGE_DELAY_SECONDS, delaySeconds) } : undefined);
      log.debug({ jobId, messageId }, 'job message sent');
    },

    async acknowledge({ jobId, receipt }) {
      // No receipt: the event did not come from a delivery, so there is nothing to delete.
      if (receipt === undefined) return;
      try {
        await queue.delete(receipt);
      } catch (err) {
        // The delivery is over: if the message comes back, the next worker finds the job
        // finished and acknowledges that delivery instead.
        if (!(err instanceof NotFoundError)) throw err;
        log.warn({ jobId }, 'acknowledge skipped: the delivery is no longer held');
        return;
      }
      log.debug({ jobId }, 'job message acknowledged');
    },

    async scheduleRetry({ jobId, receipt, attempt, retryAt }) {
      if (retryAt !== undefined) {
        // A new message, so each attempt is a first receive (the queue's maxReceiveCount counts
        // crashes, not retries). It can wait at most 900 s; a later retryAt sends it on again
        // (the worker does, on a message that comes before the job is due).
        const wait = Math.ceil((Date.parse(retryAt) - now().getTime()) / 1000);
        const delaySeconds = Math.min(MAX_MESSAGE_DELAY_SECONDS, Math.max(0, wait));
        await queue.send({ jobId }, { delaySeconds });
        if (receipt !== undefined) {
          await queue.delete(receipt).catch((err: unknown) => {
            if (!(err instanceof NotFoundError)) throw err;
          });
        }
        log.info({ jobId, attempt, retryAt, delaySeconds }, 'job retry scheduled for a set time');
        return;
      }
      const seconds = retryBackoffSeconds(attempt, retryBaseSeconds, random);
      if (receipt === undefined) {
        // No delivery to hold back: send a fresh, delayed message instead.
        await queue.send({ jobId }, { delaySeconds: seconds });
        log.info({ jobId, attempt, backoffSeconds: seconds }, 'job retry scheduled with a new message');
        return;
      }
      try {
        // Keep the same message invisible for the backoff; it then comes back as attempt n+1.
        await queue.extend(receipt, seconds);
      } catch (err) {
        // The delivery expired or was deleted: the message is already visible again (it will
        // be retried sooner) or gone (the sweeper re-sends for jobs left queued).
        if (!(err instanceof NotFoundError)) throw err;
        log.warn({ jobId, attempt }, 'retry backoff not applied: the delivery is no longer held');
        return;
      }
      log.info({ jobId, attempt, backoffSeconds: seconds }, 'job retry scheduled');
    },

    async announce({ jobId, state }, record) {
      // Best effort: the retention sweep deletes the input on time anyway; the tag only lets S3
      // do it too. Done is terminal, so a marked input never has to be unmarked.
      if (state === 'done' && record && deps.blobs?.markFinished) {
        await deps.blobs.markFinished(record.input.key).catch((err: unknown) => log.warn({ jobId, err }, 'input not marked finished; the retention sweep deletes it'));
      }
      if (!deps.announce) return;
      if (!record) {
        log.warn({ jobId }, 'announce without the saved record; nothing announced');
        return;
      }
      await deps.announce(record, state);
    },

    async removeDeadLetters({ jobId }) {
      const removed = await queue.deleteDeadLettersFor(jobId);
      log.debug({ jobId, removed }, 'dead letters removed');
    },
  };
}
