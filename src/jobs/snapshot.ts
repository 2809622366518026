/**
 * Moving the job machine's snapshot in and out of a JobRecord. The record stores xstate's
 * persisted snapshot as plain JSON (no `undefined`, which DynamoDB's marshaller refuses);
 * restoring goes through `jobMachine.resolveState`, which needs no actor.
 */
import type { SnapshotFrom } from 'xstate';
import { jobMachine, type JobMachineContext } from '../machines/job.js';
import { CorruptJobSnapshotError } from './errors.js';
import { isJobState, type JobRecord, type JobState } from './types.js';

export type JobSnapshot = SnapshotFrom<typeof jobMachine>;

/** The JSON form of a job machine snapshot, as stored in `JobRecord.snapshot`. */
export interface PersistedJobSnapshot {
  status: string;
  value: JobState;
  context: JobMachineContext;
  [key: string]: unknown;
}

/** The snapshot as plain JSON for the store. */
export function persistJobSnapshot(snapshot: JobSnapshot): PersistedJobSnapshot {
  return JSON.parse(JSON.stringify(jobMachine.getPersistedSnapshot(snapshot))) as PersistedJobSnapshot;
}

/** The record's persisted snapshot, checked. Throws CorruptJobSnapshotError. */
export function readPersistedJobSnapshot(record: Pick<JobRecord, 'id' | 'snapshot'>): PersistedJobSnapshot {
  const raw = record.snapshot as Partial<PersistedJobSnapshot> | null | undefined;
  const context = raw?.context as Partial<JobMachineContext> | undefined;
  if (
    !raw ||
    typeof raw !== 'object' ||
    !isJobState(raw.value) ||
    !context ||
    typeof context !== 'object' ||
    typeof context.attempts !== 'number' ||
    typeof context.maxAttempts !== 'number' ||
    !Array.isArray(context.history)
  ) {
    throw new CorruptJobSnapshotError(`job ${record.id} has no valid job machine snapshot`, {
      details: { jobId: record.id },
    });
  }
  return raw as PersistedJobSnapshot;
}

/** A live machine snapshot for `transition()`. Throws CorruptJobSnapshotError. */
export function restoreJobSnapshot(record: Pick<JobRecord, 'id' | 'snapshot'>): JobSnapshot {
  const persisted = readPersistedJobSnapshot(record);
  const context: JobMachineContext = {
    ...persisted.context,
    id: persisted.context.id ?? record.id,
    // Records written before the budget existed: the best guess is the current budget.
    budget: persisted.context.budget ?? persisted.context.maxAttempts,
  };
  return jobMachine.resolveState({ value: persisted.value, context });
}
