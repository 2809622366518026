/**
 * The project's error base. Every area has an `errors.ts` whose classes extend
 * {@link FacefleetError}: each sets `name`, carries a stable string `code`,
 * accepts `{ cause }`, and says whether the failure is worth retrying.
 */
export interface FacefleetErrorOptions {
  cause?: unknown;
  /** Extra context for logs and operators. Never put secrets here. */
  details?: Record<string, unknown>;
}

export abstract class FacefleetError extends Error {
  /** Stable machine-readable code, e.g. `version-conflict`. */
  abstract readonly code: string;
  /** True when the same call may succeed if tried again later. */
  abstract readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(message: string, options: FacefleetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.details) this.details = options.details;
  }

  toJSON(): { code: string; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** A failure we could not classify. Treated as retryable: better a retry than a lost job. */
export class UnexpectedError extends FacefleetError {
  readonly code = 'unexpected';
  readonly retryable = true;
}

/** A call that ran past its deadline. */
export class TimeoutError extends FacefleetError {
  readonly code = 'timeout';
  readonly retryable = true;
}

/** Bad configuration or flags: fix and restart. */
export class ConfigError extends FacefleetError {
  readonly code = 'config';
  readonly retryable = false;
}

/**
 * Normalise any throwable into a {@link FacefleetError}. Catch sites call this
 * once and then branch on `code` / `retryable`.
 */
export function toFacefleetError(err: unknown): FacefleetError {
  if (err instanceof FacefleetError) return err;
  if (err instanceof Error) return new UnexpectedError(err.message, { cause: err });
  return new UnexpectedError(String(err), { cause: err });
}

/** The plain, serialisable form stored on a job and shown to operators. */
export interface ErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
  /** The HTTP status a webhook receiver answered, on a failed delivery attempt. */
  status?: number;
}

export function errorInfo(err: unknown): ErrorInfo {
  return toFacefleetError(err).toJSON();
}
