import type { ErrorInfo } from '../errors.js';
import { readPersistedJobSnapshot } from './snapshot.js';
import type { HistoryEntry, JobContext, JobKind, JobRecord, JobResult, JobState } from './types.js';

/** What `GET /v1/jobs/:id` returns for a job. */
export interface JobView {
  id: string;
  kind: JobKind;
  state: JobState;
  createdAt: string;
  updatedAt: string;
  attempts: number;
  maxAttempts: number;
  result?: JobResult;
  error?: ErrorInfo;
  deadLetterReason?: string;
  /** A queued retry that may not start before this time (webhook deliveries). */
  retryAt?: string;
  history: HistoryEntry[];
}

/** The job machine's context stored in the record. Throws CorruptJobSnapshotError. */
export function jobContext(record: JobRecord): JobContext {
  const { context } = readPersistedJobSnapshot(record);
  const out: JobContext = {
    id: context.id ?? record.id,
    attempts: context.attempts,
    maxAttempts: context.maxAttempts,
    history: context.history,
  };
  if (context.workerId !== undefined) out.workerId = context.workerId;
  if (context.leaseUntil !== undefined) out.leaseUntil = context.leaseUntil;
  if (context.error !== undefined) out.error = context.error;
  if (context.deadLetterReason !== undefined) out.deadLetterReason = context.deadLetterReason;
  if (context.retryAt !== undefined) out.retryAt = context.retryAt;
  if (context.result !== undefined) out.result = context.result;
  return out;
}

/** The client- and operator-facing view of a job; optional fields are absent, not null. */
export function jobView(record: JobRecord): JobView {
  const context = jobContext(record);
  const view: JobView = {
    id: record.id,
    kind: record.kind,
    state: record.state,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    attempts: context.attempts,
    maxAttempts: context.maxAttempts,
    history: context.history,
  };
  if (context.result !== undefined) view.result = context.result;
  if (context.error !== undefined) view.error = context.error;
  if (context.deadLetterReason !== undefined) view.deadLetterReason = context.deadLetterReason;
  if (context.retryAt !== undefined && record.state === 'queued') view.retryAt = context.retryAt;
  return view;
}
