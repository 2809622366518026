/**
 * The job runner: the only code that moves a job between states. Each dispatch
 * (1) loads the record, (2) computes the next snapshot and actions with xstate's pure
 * `transition()`, (3) saves the next snapshot on condition that the record's version has not
 * moved, and (4) only then runs the actions through the effects. Losing the conditional write
 * means another process moved the job first: reload and decide again on the new state.
 */
import { randomUUID } from 'node:crypto';
import { initialTransition, transition } from 'xstate';
import type { Logger } from '../log.js';
import { jobMachine, JOB_ACTION_TYPES, type JobAction, type JobEvent } from '../machines/job.js';
import { NotFoundError, StorePermanentError, VersionConflictError } from '../store/errors.js';
import type { JobIntake, JobStore } from '../store/ports.js';
import { toFacefleetError } from '../errors.js';
import { enqueueMessage, type JobEffects } from './effects.js';
import { InvalidJobRequestError, JobEffectError } from './errors.js';
import { persistJobSnapshot, restoreJobSnapshot } from './snapshot.js';
import type { JobInput, JobKind, JobMessage, JobOptions, JobRecord } from './types.js';

type WithoutAt<E> = E extends unknown ? Omit<E, 'at'> : never;

/** A job event as callers send it: the runner stamps `at`. */
export type JobCommand = WithoutAt<JobEvent>;

export interface NewJob {
  /** Default: a random UUID. */
  id?: string;
  kind: JobKind;
  input: JobInput;
  options: JobOptions;
  /** Attempt budget, at least 1. Each replay grants this many again. */
  maxAttempts: number;
}

export interface DispatchResult {
  /** The record after the dispatch (unchanged when the event was not accepted); null when no such job. */
  record: JobRecord | null;
  /** True when the event was accepted and saved. */
  changed: boolean;
}

export interface JobRunner {
  /** Create the record in state `uploaded` (version 0) via JobStore.create. Throws AlreadyExistsError. */
  create(job: NewJob): Promise<JobRecord>;
  /**
   * Apply `command` to the job. An event the current state does not accept changes nothing
   * (`changed: false`). Effects run only after the save; if one fails, the new state stands and
   * JobEffectError is thrown (the caller may retry the effect's purpose, or rely on the sweeper).
   * Throws VersionConflictError when the job kept moving through every reload.
   */
  dispatch(jobId: string, command: JobCommand): Promise<DispatchResult>;
  /**
   * Take a new job in: the record as create() then dispatch(ENQUEUE) would leave it (same
   * snapshot and history, `queued`, version 0) goes to the intake with its message, in one
   * operation (see `JobIntake`). Throws as the intake does: AlreadyExistsError, JobNotSentError
   * (stored, not sent), or the store's own errors. Throws StorePermanentError without an intake.
   */
  submit(job: NewJob): Promise<JobRecord>;
}

export interface JobRunnerDeps {
  store: JobStore;
  effects: JobEffects;
  /** Where submit() sends new jobs; only the web tier submits. */
  intake?: JobIntake;
  log: Logger;
  /** Clock for the events' `at` and records' timestamps. Default: the system clock. */
  now?: () => Date;
  /** How many times a dispatch reloads after losing the conditional write. Default 8. */
  maxConflictRetries?: number;
}

function isJobAction(action: { type: string; params: unknown }): action is JobAction {
  return (JOB_ACTION_TYPES as readonly string[]).includes(action.type);
}

export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const { store, effects, log } = deps;
  const now = deps.now ?? (() => new Date());
  const maxConflictRetries = deps.maxConflictRetries ?? 8;

  async function runEffects(record: JobRecord, actions: JobAction[]): Promise<void> {
    for (const action of actions) {
      try {
        // The union of handler types does not narrow by `action.type`; the map guarantees the pairing.
        const handler = effects[action.type] as (params: JobAction['params'], saved: JobRecord) => Promise<void>;
        await handler(action.params, record);
      } catch (err) {
        const cause = toFacefleetError(err);
        log.warn({ jobId: record.id, action: action.type, err: cause }, 'job effect failed after the transition was saved');
        throw new JobEffectError(`job ${record.id}: effect ${action.type} failed: ${cause.message}`, {
          cause: err,
          record,
          action: action.type,
          retryable: cause.retryable,
        });
      }
    }
  }

  /** A new job in its initial state (`uploaded`, version 0): the record but its snapshot, and the snapshot. */
  function newJob(job: NewJob) {
    if (!Number.isInteger(job.maxAttempts) || job.maxAttempts < 1) {
      throw new InvalidJobRequestError(`maxAttempts must be a whole number >= 1, got ${job.maxAttempts}`);
    }
    const id = job.id ?? randomUUID();
    const at = now().toISOString();
    // The initial state has no entry actions, so there is nothing to execute.
    const [snapshot] = initialTransition(jobMachine, { id, maxAttempts: job.maxAttempts, at });
    const base: Omit<JobRecord, 'snapshot'> = {
      id,
      version: 0,
      state: snapshot.value,
      kind: job.kind,
      createdAt: at,
      updatedAt: at,
      input: job.input,
      options: job.options,
    };
    return { base, snapshot };
  }

  function logTransition(jobId: string, command: JobCommand, from: JobRecord['state'], to: JobRecord['state']): void {
    // Heartbeats only extend the lease; at info level they would drown the real transitions.
    log[command.type === 'HEARTBEAT' ? 'debug' : 'info'](
      {
        jobId,
        event: command.type,
        from,
        to,
        ...('workerId' in command ? { workerId: command.workerId } : {}),
        ...(command.type === 'REPLAY' && command.by !== undefined ? { by: command.by } : {}),
      },
      'job transition',
    );
  }

  return {
    async create(job) {
      const { base, snapshot } = newJob(job);
      const record: JobRecord = { ...base, snapshot: persistJobSnapshot(snapshot) };
      await store.create(record);
      log.debug({ jobId: record.id, kind: job.kind }, 'job created');
      return record;
    },

    async submit(job) {
      const { intake } = deps;
      if (!intake) throw new StorePermanentError('this job runner has no intake: it cannot submit jobs');
      const { base, snapshot } = newJob(job);
      const at = now().toISOString();
      const command: JobCommand = { type: 'ENQUEUE' };
      const [next, actions] = transition(jobMachine, snapshot, { ...command, at } as JobEvent);
      const messages: JobMessage[] = [];
      for (const action of actions) {
        // assign() never comes back (see dispatch); the only effect of a new job's ENQUEUE is its message.
        if (!isJobAction(action)) continue;
        if (action.type !== 'enqueue') throw new StorePermanentError(`a new job's ENQUEUE asked for ${action.type}`);
        messages.push(enqueueMessage(action.params));
      }
      // Version 0: this is the record's first write, even though it is past its first transition.
      const record: JobRecord = { ...base, state: next.value, updatedAt: at, snapshot: persistJobSnapshot(next) };
      await intake.accept({ record, messages });
      log.debug({ jobId: record.id, kind: job.kind, messages: messages.length }, 'job created with its messages');
      logTransition(record.id, command, base.state, record.state);
      return record;
    },

    async dispatch(jobId, command) {
      for (let round = 0; ; round++) {
        const current = await store.get(jobId);
        if (current === null) return { record: null, changed: false };

        const at = now().toISOString();
        const snapshot = restoreJobSnapshot(current);
        const event = { ...command, at } as JobEvent;
        const [next, actions] = transition(jobMachine, snapshot, event);
        // transition() hands back the very same snapshot when no transition was enabled.
        if (next === snapshot) return { record: current, changed: false };

        const candidate: JobRecord = {
          ...current,
          state: next.value,
          updatedAt: at,
          snapshot: persistJobSnapshot(next),
        };
        let saved: JobRecord;
        try {
          saved = await store.save(candidate, current.version);
        } catch (err) {
          if (err instanceof NotFoundError) return { record: null, changed: false };
          if (err instanceof VersionConflictError && round < maxConflictRetries) {
            log.debug({ jobId, event: command.type, round }, 'job moved on while deciding; reloading');
            continue;
          }
          throw err;
        }

        const effectActions: JobAction[] = [];
        for (const action of actions) {
          // assign() is applied inside transition() and never comes back; anything else unknown
          // would be a machine bug, so it is logged rather than silently dropped.
          if (isJobAction(action)) effectActions.push(action);
          else log.warn({ jobId, action: action.type }, 'job machine returned an action with no effect handler');
        }
        logTransition(jobId, command, current.state, saved.state);
        await runEffects(saved, effectActions);
        return { record: saved, changed: true };
      }
    },
  };
}
