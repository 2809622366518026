/**
 * The job machine: a job's lifecycle as pure states and transitions.
 *
 * ```
 * uploaded --ENQUEUE|SWEEP--> queued --START--> processing --SUCCEED--> done
 *                               ^  \                 |  \
 *                               |   ABANDON          |   FAIL (retryable, attempts left) --> queued
 *                             REPLAY  \              |   FAIL (permanent or out of attempts),
 *                               |      v             v   ABANDON
 *                               +---- dead-lettered <+
 * ```
 *
 * No I/O happens here and nothing is delayed: the runner feeds events (each stamped with
 * `at`) through xstate's pure `transition()`, saves the next snapshot conditionally and only
 * then runs the returned actions (`enqueue`, `acknowledge`, `scheduleRetry`,
 * `removeDeadLetters`, `announce`) through the job effects. Lease expiry is decided by comparing the
 * event's `at` with `leaseUntil`, so time is always supplied from outside.
 */
import { and, assign, setup } from 'xstate';
import type { ErrorInfo } from '../errors.js';
import type { HistoryEntry, JobContext, JobResult, JobState } from '../jobs/types.js';

/** How many history entries a job keeps: the first (creation) and the most recent ones. */
export const HISTORY_LIMIT = 50;

/** Input of the machine's initial transition. `at` stamps the creation history entry. */
export interface JobMachineInput {
  id: string;
  /** Attempt budget of the job; also the budget each replay adds. At least 1. */
  maxAttempts: number;
  at?: string;
}

/**
 * The machine's context: the shared {@link JobContext} plus the original attempt budget,
 * which REPLAY needs after `maxAttempts` has been raised.
 */
export interface JobMachineContext extends JobContext {
  /** The job's original maxAttempts: how many more attempts a replay grants. */
  budget: number;
}

/** Every event carries `at` (ISO), filled in by the runner. */
export type JobEvent =
  /**
   * `delaySeconds`: the job's message becomes visible that much later (0 to 900; a job meant for
   * a later moment). It is not kept with the job: a sweep of a job queued longer than the
   * sweeper's stale age sends a message at once.
   */
  | { type: 'ENQUEUE'; at: string; delaySeconds?: number }
  | { type: 'SWEEP'; at: string }
  | { type: 'START'; at: string; workerId: string; leaseSeconds: number; receipt?: string }
  | { type: 'HEARTBEAT'; at: string; workerId: string; leaseSeconds: number }
  | { type: 'SUCCEED'; at: string; workerId: string; result: JobResult; receipt?: string }
  /**
   * `retryAt` (ISO): the retry may not start before then. The job's message is then sent anew
   * (see `scheduleRetry`), and START and SWEEP are refused until that time; used by webhook
   * deliveries, whose backoff outgrows what one message can wait.
   */
  | { type: 'FAIL'; at: string; workerId: string; error: ErrorInfo; receipt?: string; retryAt?: string }
  /**
   * The queue gave up on the job's message. `sentAt` (the message's send time) lets the
   * machine ignore a dead letter that predates a replay of the job.
   */
  | { type: 'ABANDON'; at: string; reason: string; sentAt?: string }
  | { type: 'REPLAY'; at: string; by?: string };

export type JobEventType = JobEvent['type'];

/** Params of the effects the machine asks for; `jobId` is on all of them for logs. */
export interface EnqueueParams {
  jobId: string;
  /** Send the message this many seconds late (ENQUEUE's `delaySeconds`). */
  delaySeconds?: number;
}
export interface AcknowledgeParams {
  jobId: string;
  /** The delivery to delete; absent when the event did not come from a queue message. */
  receipt?: string;
}
export interface ScheduleRetryParams {
  jobId: string;
  receipt?: string;
  /** The attempt that just failed (from 1); the backoff grows with it. */
  attempt: number;
  /** The retry's earliest start, when the failure set one: send a new message instead of hiding this one. */
  retryAt?: string;
}
export interface RemoveDeadLettersParams {
  jobId: string;
}
export interface AnnounceParams {
  jobId: string;
  /** The state the job just reached. */
  state: 'done' | 'dead-lettered';
}

/** The effect actions by name, with their params. */
export interface JobActionParams {
  enqueue: EnqueueParams;
  acknowledge: AcknowledgeParams;
  scheduleRetry: ScheduleRetryParams;
  removeDeadLetters: RemoveDeadLettersParams;
  /** The job finished (done or dead-lettered): tell its webhooks. Runs before `acknowledge`, so a crash repeats it. */
  announce: AnnounceParams;
}
export type JobActionType = keyof JobActionParams;
export const JOB_ACTION_TYPES: readonly JobActionType[] = ['enqueue', 'acknowledge', 'scheduleRetry', 'removeDeadLetters', 'announce'];

/** A returned effect action, as the runner hands it to the effects. */
export type JobAction = { [K in JobActionType]: { type: K; params: JobActionParams[K] } }[JobActionType];

interface RecordParams {
  from: JobState;
  to: JobState;
}

function leaseUntil(at: string, leaseSeconds: number): string {
  return new Date(Date.parse(at) + leaseSeconds * 1000).toISOString();
}

/** Keep the creation entry and the most recent ones, HISTORY_LIMIT in all. */
export function boundHistory(history: HistoryEntry[], limit = HISTORY_LIMIT): HistoryEntry[] {
  if (history.length <= limit) return history;
  return [history[0], ...history.slice(history.length - (limit - 1))];
}

function deadLetterReason(error: ErrorInfo, attempts: number): string {
  const what = `${error.code}: ${error.message}`;
  return error.retryable ? `out of attempts after ${attempts}: ${what}` : `permanent error on attempt ${attempts}: ${what}`;
}

const record = (from: JobState, to: JobState) => ({ type: 'recordHistory' as const, params: { from, to } });
const announce = (state: AnnounceParams['state']) => ({
  type: 'announce' as const,
  params: ({ context }: { context: JobMachineContext }) => ({ jobId: context.id, state }),
});

export const jobMachine = setup({
  types: {
    context: {} as JobMachineContext,
    events: {} as JobEvent,
    input: {} as JobMachineInput,
  },
  actions: {
    // Effects: no-ops here. The runner executes them after the conditional save.
    enqueue: (_, _params: EnqueueParams) => {},
    acknowledge: (_, _params: AcknowledgeParams) => {},
    scheduleRetry: (_, _params: ScheduleRetryParams) => {},
    removeDeadLetters: (_, _params: RemoveDeadLettersParams) => {},
    announce: (_, _params: AnnounceParams) => {},

    // Context updates: applied inside transition(), never returned to the runner.
    recordHistory: assign(({ context, event }, params: RecordParams) => {
      const entry: HistoryEntry = {
        at: event.at,
        from: params.from,
        to: params.to,
        event: event.type,
        attempt: context.attempts,
      };
      if (context.workerId !== undefined) entry.workerId = context.workerId;
      else if ('workerId' in event) entry.workerId = event.workerId;
      if (event.type === 'FAIL') entry.error = event.error;
      return { history: boundHistory([...context.history, entry]) };
    }),
    startAttempt: assign(({ context, event }) => {
      if (event.type !== 'START') return {};
      return {
        attempts: context.attempts + 1,
        workerId: event.workerId,
        leaseUntil: leaseUntil(event.at, event.leaseSeconds),
        retryAt: undefined,
      };
    }),
    extendLease: assign(({ event }) => {
      if (event.type !== 'HEARTBEAT') return {};
      return { leaseUntil: leaseUntil(event.at, event.leaseSeconds) };
    }),
    // assign() merges, so a field is cleared by setting it to undefined; the runner's JSON
    // round trip of the persisted snapshot then drops it.
    storeResult: assign(({ event }) => {
      if (event.type !== 'SUCCEED') return {};
      return { leaseUntil: undefined, error: undefined, result: event.result };
    }),
    storeRetryableError: assign(({ event }) => {
      if (event.type !== 'FAIL') return {};
      return { workerId: undefined, leaseUntil: undefined, error: event.error, retryAt: event.retryAt };
    }),
    storeFatalError: assign(({ context, event }) => {
      if (event.type !== 'FAIL') return {};
      return {
        leaseUntil: undefined,
        error: event.error,
        deadLetterReason: deadLetterReason(event.error, context.attempts),
      };
    }),
    storeAbandonReason: assign(({ event }) => {
      if (event.type !== 'ABANDON') return {};
      return { workerId: undefined, leaseUntil: undefined, deadLetterReason: event.reason };
    }),
    grantReplay: assign(({ context }) => ({
      workerId: undefined,
      leaseUntil: undefined,
      error: undefined,
      deadLetterReason: undefined,
      retryAt: undefined,
      // A replay grants a fresh budget on top of what was spent, so attempts keep counting.
      maxAttempts: context.attempts + (context.budget ?? context.maxAttempts),
    })),
  },
  guards: {
    /** The lease ran out (at >= leaseUntil), or nobody holds one. */
    leaseExpired: ({ context, event }) =>
      context.leaseUntil === undefined || Date.parse(event.at) >= Date.parse(context.leaseUntil),
    /** No retry time is set, or it has come. */
    due: ({ context, event }) => context.retryAt === undefined || Date.parse(event.at) >= Date.parse(context.retryAt),
    /** The event comes from the worker holding the job. */
    isCurrentWorker: ({ context, event }) =>
      'workerId' in event && context.workerId !== undefined && event.workerId === context.workerId,
    /** A retryable failure with attempts left in the budget. */
    canRetry: ({ context, event }) =>
      event.type === 'FAIL' && event.error.retryable && context.attempts < context.maxAttempts,
    /**
     * The dead letter is about the job's current life: no replay happened after its message
     * was sent (a replay removes the old dead letter, but reconcile may have read it first).
     */
    abandonApplies: ({ context, event }) => {
      if (event.type !== 'ABANDON' || event.sentAt === undefined) return true;
      const sentAt = Date.parse(event.sentAt);
      return !context.history.some((h) => h.event === 'REPLAY' && Date.parse(h.at) > sentAt);
    },
  },
}).createMachine({
  id: 'job',
  initial: 'uploaded',
  context: ({ input }) => ({
    id: input.id,
    attempts: 0,
    maxAttempts: input.maxAttempts,
    budget: input.maxAttempts,
    history: input.at === undefined ? [] : [{ at: input.at, from: null, to: 'uploaded', event: 'CREATE', attempt: 0 }],
  }),
  states: {
    uploaded: {
      on: {
        ENQUEUE: {
          target: 'queued',
          actions: [
            record('uploaded', 'queued'),
            { type: 'enqueue', params: ({ context, event }) => ({ jobId: context.id, ...(event.type === 'ENQUEUE' && event.delaySeconds ? { delaySeconds: event.delaySeconds } : {}) }) },
          ],
        },
        SWEEP: {
          target: 'queued',
          actions: [record('uploaded', 'queued'), { type: 'enqueue', params: ({ context }) => ({ jobId: context.id }) }],
        },
      },
    },
    queued: {
      on: {
        // The message may have been lost: send another. A duplicate is harmless because only
        // one START is accepted while the job is queued.
        SWEEP: {
          // A job waiting for its retry time has its message on the way; sweep it only once due.
          guard: 'due',
          target: 'queued',
          reenter: true,
          actions: [record('queued', 'queued'), { type: 'enqueue', params: ({ context }) => ({ jobId: context.id }) }],
        },
        START: {
          guard: 'due',
          target: 'processing',
          actions: ['startAttempt', record('queued', 'processing')],
        },
        ABANDON: {
          guard: 'abandonApplies',
          target: 'dead-lettered',
          actions: ['storeAbandonReason', record('queued', 'dead-lettered'), announce('dead-lettered')],
        },
      },
    },
    processing: {
      on: {
        // Takeover: the holder's lease ran out (it died or stalled); the message came back.
        START: {
          guard: 'leaseExpired',
          target: 'processing',
          reenter: true,
          actions: ['startAttempt', record('processing', 'processing')],
        },
        HEARTBEAT: {
          guard: 'isCurrentWorker',
          actions: 'extendLease',
        },
        SUCCEED: {
          guard: 'isCurrentWorker',
          target: 'done',
          actions: [
            'storeResult',
            record('processing', 'done'),
            announce('done'),
            { type: 'acknowledge', params: ({ context, event }) => ({ jobId: context.id, receipt: event.receipt }) },
          ],
        },
        FAIL: [
          {
            guard: and(['isCurrentWorker', 'canRetry']),
            target: 'queued',
            actions: [
              'storeRetryableError',
              record('processing', 'queued'),
              {
                type: 'scheduleRetry',
                params: ({ context, event }) => ({
                  jobId: context.id,
                  receipt: event.receipt,
                  attempt: context.attempts,
                  ...(event.type === 'FAIL' && event.retryAt !== undefined ? { retryAt: event.retryAt } : {}),
                }),
              },
            ],
          },
          {
            guard: 'isCurrentWorker',
            target: 'dead-lettered',
            actions: [
              'storeFatalError',
              record('processing', 'dead-lettered'),
              announce('dead-lettered'),
              { type: 'acknowledge', params: ({ context, event }) => ({ jobId: context.id, receipt: event.receipt }) },
            ],
          },
        ],
        // A live lease means a worker is still on it (its delivery lapsed and the queue gave up
        // on the message meanwhile); let it finish, and abandon only once the lease runs out.
        ABANDON: {
          guard: and(['abandonApplies', 'leaseExpired']),
          target: 'dead-lettered',
          actions: ['storeAbandonReason', record('processing', 'dead-lettered'), announce('dead-lettered')],
        },
      },
    },
    done: { type: 'final' },
    'dead-lettered': {
      on: {
        REPLAY: {
          target: 'queued',
          actions: [
            'grantReplay',
            record('dead-lettered', 'queued'),
            { type: 'removeDeadLetters', params: ({ context }) => ({ jobId: context.id }) },
            { type: 'enqueue', params: ({ context }) => ({ jobId: context.id }) },
          ],
        },
      },
    },
  },
});

export type JobMachine = typeof jobMachine;
