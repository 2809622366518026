import { createAddressPolicy, type AddressPolicy } from '../webhooks/address-policy.js';
import { WebhooksDisabledError, WebhookUrlRefusedError } from '../webhooks/errors.js';
import { newWebhookSecret } from '../webhooks/signature.js';
import { BadRequestError, ConflictError, UnprocessableError } from './errors.js';

/** The longest webhook URL accepted. */
const MAX_URL_LENGTH = 2048;

/** The web tier's view of `FACEFLEET_WEBHOOK_ALLOW`. */
export function webhookPolicy(allow: readonly string[]): AddressPolicy {
  return createAddressPolicy(allow);
}

/**
 * A webhook URL from a request, checked against the allowlist: 400 when it is not a string,
 * 409 (`webhooks-disabled`) when the allowlist is empty, 422 (`webhook-url-refused`) when the
 * host or address is not allowed. The same check runs again at every delivery attempt.
 */
export function parseWebhookUrl(policy: AddressPolicy, raw: unknown, name = 'url'): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL_LENGTH) {
    throw new BadRequestError(`${name} must be an http(s) URL of at most ${MAX_URL_LENGTH} characters`, { code: 'bad-webhook-url' });
  }
  try {
    return policy.checkUrl(raw).href;
  } catch (err) {
    if (err instanceof WebhooksDisabledError) throw new ConflictError(err.message, { code: 'webhooks-disabled', cause: err });
    if (err instanceof WebhookUrlRefusedError) throw new UnprocessableError(err.message, { code: 'webhook-url-refused', cause: err });
    throw err;
  }
}

/**
 * A job's own webhook (`callbackUrl`, a form field or query parameter of a job-submitting route):
 * absent or empty means none; otherwise the URL is checked as {@link parseWebhookUrl} does (and
 * again at every attempt) and gets a fresh signing secret, which the submit answer shows once.
 */
export function parseCallback(policy: AddressPolicy, raw: unknown): { url: string; secret: string } | undefined {
  if (raw === undefined || raw === '') return undefined;
  return { url: parseWebhookUrl(policy, raw, 'callbackUrl'), secret: newWebhookSecret() };
}
