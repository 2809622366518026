export { createJobRunner } from './runner.js';
export type { DispatchResult, JobCommand, JobRunner, JobRunnerDeps, NewJob } from './runner.js';
export { createJobEffects, retryBackoffSeconds, MAX_RETRY_BACKOFF_SECONDS } from './effects.js';
export type { JobEffects, JobEffectsDeps } from './effects.js';
export { jobContext, jobView } from './view.js';
export type { JobView } from './view.js';
export { persistJobSnapshot, readPersistedJobSnapshot, restoreJobSnapshot } from './snapshot.js';
export type { JobSnapshot, PersistedJobSnapshot } from './snapshot.js';
export { abandonReason, listDeadLetters, reconcileDeadLetters, replayJobs, sweepStuckJobs } from './operations.js';
export type {
  DeadLetterSummary,
  ListDeadLettersOptions,
  ReplayDeps,
  ReplayOptions,
  ReplayOutcome,
  ReplayReport,
  ReplaySelector,
  SweepOptions,
} from './operations.js';
export { CorruptJobSnapshotError, InvalidJobRequestError, JobEffectError } from './errors.js';
export { jobMachine, HISTORY_LIMIT } from '../machines/job.js';
export type { JobAction, JobActionType, JobEvent, JobEventType, JobMachineContext, JobMachineInput } from '../machines/job.js';
