/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): the secret is `whsec_`
 * followed by base64 key bytes; a delivery carries `webhook-id`, `webhook-timestamp` (Unix
 * seconds of the attempt) and `webhook-signature`, `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">`. Several space-separated signatures may appear; one match verifies.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';
/** Bytes of key material in a new secret (the spec asks for 24 to 64). */
const SECRET_BYTES = 32;

/** A new signing secret, `whsec_<base64 of 32 random bytes>`. */
export function newWebhookSecret(): string {
  return PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a `whsec_` secret (a secret without the prefix is taken as base64 too). */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

/** The `webhook-signature` value for one delivery attempt. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The three headers of one attempt, plus the content type. `timestamp` is Unix seconds. */
export function webhookHeaders(secret: string, id: string, timestamp: number, body: string | Buffer): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}

/**
 * True when one of the `v1,` signatures in `header` is this body's, and the timestamp is within
 * `toleranceSeconds` (default 300) of `now`. What a receiver does; used by the tests and docs.
 */
export function verifyWebhook(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string | Buffer,
  options: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts)) return false;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - ts) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, headers.id, ts, body).slice(3), 'base64');
  return headers.signature.split(' ').some((candidate) => {
    if (!candidate.startsWith('v1,')) return false;
    const got = Buffer.from(candidate.slice(3), 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
