import { FacefleetError, type FacefleetErrorOptions } from '../errors.js';

/**
 * Webhooks are off: `FACEFLEET_WEBHOOK_ALLOW` is empty, so no host may receive them.
 * The web tier answers it as 409 with the setting to change.
 */
export class WebhooksDisabledError extends FacefleetError {
  readonly code = 'webhooks-disabled';
  readonly retryable = false;
}

/**
 * A webhook URL that may not be called: not http(s), a host outside `FACEFLEET_WEBHOOK_ALLOW`,
 * or an address that is always refused (link-local, cloud metadata) or internal and not allowed.
 * At registration it is the client's mistake (422); at delivery it ends the delivery for good.
 */
export class WebhookUrlRefusedError extends FacefleetError {
  readonly code = 'webhook-url-refused';
  readonly retryable = false;
}

/**
 * One delivery attempt that did not get a 2xx: the receiver's status (absent when there was no
 * answer: refused connection, timeout, reset). Retryable, except a 410 Gone, which says the
 * receiver wants no more deliveries.
 */
export class WebhookDeliveryError extends FacefleetError {
  readonly code: string;
  readonly retryable: boolean;
  /** The receiver's HTTP status, when it answered. */
  readonly status?: number;

  constructor(message: string, options: FacefleetErrorOptions & { code: string; status?: number; retryable?: boolean }) {
    super(message, options);
    this.code = options.code;
    if (options.status !== undefined) this.status = options.status;
    this.retryable = options.retryable ?? options.status !== 410;
  }

  override toJSON(): { code: string; message: string; retryable: boolean; status?: number } {
    return { ...super.toJSON(), ...(this.status !== undefined ? { status: this.status } : {}) };
  }
}

/** A delivery job whose endpoint was removed, or whose record names no target: nothing to send to. */
export class WebhookTargetGoneError extends FacefleetError {
  readonly code = 'webhook-target-gone';
  readonly retryable = false;
}
