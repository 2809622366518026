import type { ErrorRequestHandler, Response } from 'express';
import { toFacefleetError } from '../errors.js';
import { ctx } from './context.js';
import {
  BadRequestError,
  ConflictError,
  HttpError,
  HttpNotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnprocessableError,
  UnsupportedMediaTypeError,
} from './errors.js';

/** Base of every problem `type` URI; the suffix is the error's stable code. */
export const PROBLEM_BASE = 'https://facefleet.dev/problems/';

/** The `application/problem+json` body (RFC 9457) every error answer carries. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  requestId: string;
  [extension: string]: unknown;
}

/**
 * How image probe failures (`ImageError` codes from `recognition/decode.ts`) become HTTP:
 * - `empty-image` -> 400: the part carried no bytes, a malformed request.
 * - `not-an-image`, `unsupported-format` -> 415: bytes we do not take as an image.
 * - `animated-image` (multi-frame, checked by the web tier) -> 415.
 * - `truncated-image` -> 422: a supported format, but the content is cut short.
 * - `too-many-pixels` -> 413: small on the wire, too large decoded (decompression bomb).
 */
export const IMAGE_ERROR_STATUS: Readonly<Record<string, 400 | 413 | 415 | 422>> = {
  'empty-image': 400,
  'not-an-image': 415,
  'unsupported-format': 415,
  'animated-image': 415,
  'truncated-image': 422,
  'too-many-pixels': 413,
};

/** Seconds a client should wait after a 503 when nothing better is known. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

function imageError(code: string, message: string, cause: unknown): HttpError | null {
  switch (IMAGE_ERROR_STATUS[code]) {
    case 400:
      return new BadRequestError(message, { code, title: 'Empty image', cause });
    case 413:
      return new PayloadTooLargeError(message, { code, cause });
    case 415:
      return new UnsupportedMediaTypeError(message, { code, cause });
    case 422:
      return new UnprocessableError(message, { code, cause });
    default:
      return null;
  }
}

/** multer's codes: size and count limits are the client's doing, so all are 4xx. */
function multerError(code: string, field: string | undefined, limits: { maxUploadBytes: number }): HttpError {
  switch (code) {
    case 'LIMIT_FILE_SIZE':
      return new PayloadTooLargeError(`the file is larger than ${limits.maxUploadBytes} bytes`, { code: 'file-too-large' });
    case 'LIMIT_FILE_COUNT':
      return new BadRequestError('send exactly one file', { code: 'too-many-files' });
    case 'LIMIT_UNEXPECTED_FILE':
      return new BadRequestError(`unexpected file field ${JSON.stringify(field ?? '')}`, { code: 'unexpected-field' });
    case 'LIMIT_PART_COUNT':
    case 'LIMIT_FIELD_COUNT':
    case 'LIMIT_FIELD_KEY':
    case 'LIMIT_FIELD_VALUE':
      return new BadRequestError(`multipart limits exceeded (${code.toLowerCase().replace(/_/g, '-')})`, { code: 'multipart-limits' });
    default:
      return new BadRequestError(`malformed multipart body (${code})`, { code: 'malformed-multipart' });
  }
}

/**
 * Classify anything thrown on the request path into an {@link HttpError}. Unknown errors
 * become 500 without their message (it may carry internals); store outages and an open
 * breaker become 503 with a Retry-After.
 */
export function toHttpError(err: unknown, limits: { maxUploadBytes: number }): HttpError | { status: 500; title: string; code: string; message: string } {
  if (err instanceof HttpError) return err;
  const e = err as { code?: unknown; name?: unknown; type?: unknown; status?: unknown; field?: string; retryAfterSeconds?: unknown; message?: string };
  if (e && e.name === 'MulterError' && typeof e.code === 'string') return multerError(e.code, e.field, limits);
  if (e && typeof e.code === 'string') {
    const image = imageError(e.code, e.message ?? e.code, err);
    if (image) return image;
    if (e.code === 'circuit-open' || e.code === 'store-unavailable' || e.code === 'timeout') {
      const retry = typeof e.retryAfterSeconds === 'number' && e.retryAfterSeconds > 0 ? Math.ceil(e.retryAfterSeconds) : DEFAULT_RETRY_AFTER_SECONDS;
      const what = e.code === 'circuit-open' ? 'a backing store is failing; its circuit breaker is open' : 'a backing store did not answer';
      return new ServiceUnavailableError(`${what}; retry later`, { retryAfterSeconds: retry, cause: err });
    }
    if (e.code === 'job-effect-failed') {
      return new ServiceUnavailableError('the job was saved but could not be queued yet; it will be queued shortly', {
        retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
        cause: err,
      });
    }
    if (e.code === 'invalid-identity-name' || e.code === 'invalid-job-request') {
      return new BadRequestError(e.message ?? 'bad request', { code: e.code, cause: err });
    }
    if (e.code === 'not-found') return new HttpNotFoundError(e.message ?? 'not found', { cause: err });
    if (e.code === 'already-exists') return new ConflictError(e.message ?? 'already exists', { cause: err });
  }
  // body-parser (express.json) tags its errors with `type` and `status`.
  if (e && typeof e.type === 'string' && typeof e.status === 'number') {
    if (e.type === 'entity.too.large') return new PayloadTooLargeError('the JSON body is too large', { code: 'body-too-large' });
    if (e.status >= 400 && e.status < 500) return new BadRequestError(`malformed request body (${e.type})`, { code: 'malformed-body' });
  }
  const ff = toFacefleetError(err);
  return { status: 500, title: 'Internal server error', code: 'internal', message: `unexpected error (${ff.code})` };
}

/** Write a problem answer; used by the error handler and by handlers that answer errors directly. */
export function sendProblem(res: Response, err: unknown, limits: { maxUploadBytes: number }): void {
  const http = toHttpError(err, limits);
  const context = ctx(res);
  const body: Problem = {
    ...(http instanceof HttpError ? http.extensions : undefined),
    type: PROBLEM_BASE + http.code,
    title: http.title,
    status: http.status,
    detail: http.message,
    requestId: context?.requestId ?? '',
  };
  if (http instanceof HttpError && http.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(http.retryAfterSeconds));
  if (http.status >= 500) context?.log.warn({ err, status: http.status }, 'request failed');
  else context?.log.info({ status: http.status, code: http.code }, 'request rejected');
  res.status(http.status).type('application/problem+json').send(JSON.stringify(body));
}

/** Express's last middleware: every error leaves as problem+json. */
export function problemHandler(limits: { maxUploadBytes: number }): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    sendProblem(res, err, limits);
  };
}
