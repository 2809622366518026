/**
 * Translation of AWS SDK v3 errors into the project's store errors. Every AWS adapter calls
 * {@link classifyAwsError} once at its catch site, so the layers above branch on
 * `code`/`retryable` and never on vendor names.
 *
 * The table, in order of precedence:
 * - conditional write lost (`ConditionalCheckFailedException`) -> VersionConflictError
 * - throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`,
 *   `RequestLimitExceeded`, `SlowDown`, ...), 5xx, network errors and timeouts
 *   -> StoreUnavailableError (retryable; the SDK's own retries have already been spent)
 * - missing things (`NoSuchKey`, `NotFound`, `ResourceNotFoundException`, `QueueDoesNotExist`,
 *   `InvalidInstanceID.NotFound`, ...) -> NotFoundError
 * - everything else that carries a 4xx (access denied, validation) -> StorePermanentError
 * - anything unrecognised -> StoreUnavailableError: better a retry than a lost job.
 */
import { FacefleetError } from '../../errors.js';
import { NotFoundError, StorePermanentError, StoreUnavailableError, VersionConflictError } from '../errors.js';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
  'RequestLimitExceededException',
  'TransactionInProgressException',
  'EC2ThrottledException',
  'BandwidthLimitExceeded',
  'KMSThrottlingException',
  'KMS.ThrottlingException',
  'AWS.SimpleQueueService.RequestThrottled',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'PriorRequestNotComplete',
  'InsufficientInstanceCapacity',
]);

const NOT_FOUND = new Set([
  'NoSuchKey',
  'NoSuchBucket',
  'NotFound',
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NonExistentQueue',
  'InvalidInstanceID.NotFound',
  'InvalidLaunchTemplateName.NotFoundException',
  'InvalidLaunchTemplateId.NotFound',
  'InvalidLaunchTemplateId.VersionNotFound',
  'MessageNotInflight',
  'AWS.SimpleQueueService.MessageNotInflight',
  'ReceiptHandleIsInvalid',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** What the SDK puts on a service or client error; every field is optional. */
interface AwsErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $retryable?: unknown;
}

/** The vendor error code: the SDK's `name`, or the query-protocol `Code` when it is more specific. */
export function awsErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as AwsErrorShape;
  return e.name && e.name !== 'Error' && e.name !== 'UnknownError' ? e.name : (e.Code ?? e.code ?? e.name);
}

function codes(err: AwsErrorShape): string[] {
  return [err.name, err.Code, err.code].filter((c): c is string => typeof c === 'string' && c.length > 0);
}

/** True for throttling, 5xx, timeouts and broken connections: worth retrying later. */
export function isTransientAwsError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as AwsErrorShape;
  const all = codes(e);
  if (all.some((c) => THROTTLING.has(c) || NETWORK_CODES.has(c))) return true;
  if (all.includes('AbortError')) return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  // Network and socket-timeout errors from the HTTP handler carry no HTTP status at all.
  return status === undefined && e.$fault !== 'client' && !(e instanceof FacefleetError);
}

/**
 * Turn whatever an AWS call threw into a {@link FacefleetError}. `what` names the operation
 * for the message ("put blob jobs/1/input"). Project errors pass through unchanged.
 */
export function classifyAwsError(err: unknown, what: string): FacefleetError {
  if (err instanceof FacefleetError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const code = awsErrorCode(err) ?? 'unknown';
  const status = e.$metadata?.httpStatusCode;
  const details = { awsCode: code, ...(status !== undefined ? { httpStatus: status } : {}), ...(e.$metadata?.requestId ? { requestId: e.$metadata.requestId } : {}) };
  const message = `${what}: ${code}${e.message && e.message !== code ? ` (${e.message})` : ''}`;
  const all = codes(e);
  if (all.includes('ConditionalCheckFailedException')) return new VersionConflictError(message, { cause: err, details });
  if (isTransientAwsError(err)) return new StoreUnavailableError(message, { cause: err, details });
  if (all.some((c) => NOT_FOUND.has(c)) || status === 404) return new NotFoundError(message, { cause: err, details });
  if (status !== undefined && status >= 400) return new StorePermanentError(message, { cause: err, details });
  if (e.$fault === 'client') return new StorePermanentError(message, { cause: err, details });
  return new StoreUnavailableError(message, { cause: err, details });
}

/** Run `fn` and rethrow its failure translated by {@link classifyAwsError}. */
export async function awsCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyAwsError(err, what);
  }
}
