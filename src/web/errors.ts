import { FacefleetError, type FacefleetErrorOptions } from '../errors.js';

/**
 * Errors the web tier answers with. Each one carries the HTTP status it becomes and a
 * short `title`; `problem.ts` turns any of them into an `application/problem+json` body
 * whose `type` is `https://facefleet.dev/problems/<code>`.
 */
export interface HttpErrorOptions extends FacefleetErrorOptions {
  /** Seconds for the `Retry-After` header (429, 503). */
  retryAfterSeconds?: number;
  /** Extra members of the problem body (e.g. `jobId`, `state`). Never secrets. */
  extensions?: Record<string, unknown>;
}

export abstract class HttpError extends FacefleetError {
  abstract readonly status: number;
  abstract readonly title: string;
  readonly retryAfterSeconds?: number;
  readonly extensions?: Record<string, unknown>;

  constructor(message: string, options: HttpErrorOptions = {}) {
    super(message, options);
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.extensions) this.extensions = options.extensions;
  }
}

/** 400: the request is malformed (bad parameter, malformed multipart, missing file). */
export class BadRequestError extends HttpError {
  readonly code: string = 'bad-request';
  readonly retryable = false;
  readonly status = 400;
  readonly title: string = 'Bad request';
  constructor(message: string, options: HttpErrorOptions & { code?: string; title?: string } = {}) {
    super(message, options);
    if (options.code) this.code = options.code;
    if (options.title) this.title = options.title;
  }
}

/** 401: no API key, or one that does not verify. */
export class UnauthorizedError extends HttpError {
  readonly code = 'unauthorized';
  readonly retryable = false;
  readonly status = 401;
  readonly title = 'Unauthorized';
}

/** 403: a valid key whose role may not do this. */
export class ForbiddenError extends HttpError {
  readonly code = 'forbidden';
  readonly retryable = false;
  readonly status = 403;
  readonly title = 'Forbidden';
}

/** 404: no such job, identity or route. */
export class HttpNotFoundError extends HttpError {
  readonly code = 'not-found';
  readonly retryable = false;
  readonly status = 404;
  readonly title = 'Not found';
}

/** 409: the resource exists already, or is not in a state that allows this. */
export class ConflictError extends HttpError {
  readonly code: string = 'conflict';
  readonly retryable = false;
  readonly status = 409;
  readonly title = 'Conflict';
  constructor(message: string, options: HttpErrorOptions & { code?: string } = {}) {
    super(message, options);
    if (options.code) this.code = options.code;
  }
}

/** 413: the upload, or the image it decodes to, is larger than allowed. */
export class PayloadTooLargeError extends HttpError {
  readonly code: string = 'too-large';
  readonly retryable = false;
  readonly status = 413;
  readonly title = 'Content too large';
  constructor(message: string, options: HttpErrorOptions & { code?: string } = {}) {
    super(message, options);
    if (options.code) this.code = options.code;
  }
}

/** 415: not multipart where multipart is expected, or not a supported still image. */
export class UnsupportedMediaTypeError extends HttpError {
  readonly code: string = 'unsupported-media-type';
  readonly retryable = false;
  readonly status = 415;
  readonly title = 'Unsupported media type';
  constructor(message: string, options: HttpErrorOptions & { code?: string } = {}) {
    super(message, options);
    if (options.code) this.code = options.code;
  }
}

/** 422: well-formed, but the content cannot be used (truncated image, no face to enroll). */
export class UnprocessableError extends HttpError {
  readonly code: string = 'unprocessable';
  readonly retryable = false;
  readonly status = 422;
  readonly title = 'Unprocessable content';
  constructor(message: string, options: HttpErrorOptions & { code?: string } = {}) {
    super(message, options);
    if (options.code) this.code = options.code;
  }
}

/** 429: the key's (or address's) token bucket is empty. */
export class RateLimitedError extends HttpError {
  readonly code = 'rate-limited';
  readonly retryable = true;
  readonly status = 429;
  readonly title = 'Too many requests';
}

/** 502: the job ran but failed for a reason that is not the client's input. */
export class JobFailedError extends HttpError {
  readonly code = 'job-failed';
  readonly retryable = true;
  readonly status = 502;
  readonly title = 'Job failed';
}

/** 503: a store or the queue is down, or its circuit breaker is open. */
export class ServiceUnavailableError extends HttpError {
  readonly code = 'unavailable';
  readonly retryable = true;
  readonly status = 503;
  readonly title = 'Service unavailable';
}

/** 503: too many API keys are being verified at once on this process (see auth-guard.ts). */
export class AuthBusyError extends ServiceUnavailableError {}

/** 504: the job did not finish within the classic protocol's timeout. */
export class GatewayTimeoutError extends HttpError {
  readonly code = 'timeout';
  readonly retryable = true;
  readonly status = 504;
  readonly title = 'Gateway timeout';
}

/** `start()` refused: auth is on and no API key exists, or the address is unusable. */
export class WebStartError extends FacefleetError {
  readonly code = 'web-start';
  readonly retryable = false;
}
