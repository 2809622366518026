/**
 * When a worker must stop taking jobs and exit so that the fleet replaces it:
 * - its engine crashed (`engine-crashed`): the runtime may be corrupt, so not one more job runs
 *   on it;
 * - it failed {@link DEFAULT_MAX_STORE_FAILURES} times in a row to use its stores before any
 *   engine work: a receive that throws, a START or FAIL it cannot store. A fresh process
 *   reopens its stores, which is what heals a SQLite file opened read-only while the data dir
 *   was unwritable. An attempt whose failure was stored (a blob read that failed, say) does not
 *   count: the stores work, and the job's attempt budget bounds it.
 * The exit codes tell such an exit from a retirement (RETIRED_EXIT_CODE) in logs and on EC2.
 */
import { FacefleetError, toFacefleetError } from '../errors.js';
import { EngineCrashedError } from '../recognition/errors.js';

/** Exit code of a worker whose engine crashed. */
export const ENGINE_CRASHED_EXIT_CODE = 70;
/** Exit code of a worker that could not use its stores. */
export const STORES_UNUSABLE_EXIT_CODE = 71;
/**
 * Consecutive failures before any engine work after which a worker gives up: with the receive
 * loop's backoff (0.1 s doubling to 5 s) that is about 3 s of trying.
 */
export const DEFAULT_MAX_STORE_FAILURES = 5;

/** The worker could not use its stores for {@link DEFAULT_MAX_STORE_FAILURES} tries in a row. */
export class StoresUnusableError extends FacefleetError {
  readonly code = 'stores-unusable';
  readonly retryable = true;
}

/** True when `err` means the engine's runtime may be corrupt. */
export function isEngineCrash(err: unknown): boolean {
  return err instanceof EngineCrashedError || toFacefleetError(err).code === 'engine-crashed';
}

/** The exit code for a worker that stopped on `err`. */
export function fatalExitCode(err: FacefleetError): number {
  return isEngineCrash(err) ? ENGINE_CRASHED_EXIT_CODE : STORES_UNUSABLE_EXIT_CODE;
}

/** Counts consecutive store failures; `failed` answers the error to stop on once the bound is reached. */
export interface StoreFailureCounter {
  /** Record a failure; returns the fatal error once `max` failures in a row were seen. */
  failed(err: unknown): StoresUnusableError | undefined;
  /** The store answered (a receive, a job started): start counting again. */
  ok(): void;
}

export function storeFailureCounter(max = DEFAULT_MAX_STORE_FAILURES): StoreFailureCounter {
  let count = 0;
  return {
    failed(err) {
      count += 1;
      if (count < max) return undefined;
      const last = toFacefleetError(err);
      return new StoresUnusableError(`${count} store failures in a row; last: ${last.code}: ${last.message}`, { cause: err });
    },
    ok() {
      count = 0;
    },
  };
}
