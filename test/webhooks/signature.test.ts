import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newWebhookSecret, secretKey, signWebhook, verifyWebhook, webhookHeaders } from '../../src/webhooks/signature.js';

describe('Standard Webhooks signatures', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const body = '{"test": 2432232314}';

  it('matches the spec example', () => {
    // The example vector published with the Standard Webhooks reference libraries.
    expect(signWebhook(secret, id, 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs HMAC-SHA256 of id.timestamp.body with the base64-decoded key', () => {
    const s = newWebhookSecret();
    expect(s).toMatch(/^whsec_/);
    expect(secretKey(s)).toHaveLength(32);
    const mac = createHmac('sha256', secretKey(s)).update(`${id}.1700000000.${body}`).digest('base64');
    expect(webhookHeaders(s, id, 1700000000, body)).toEqual({
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': '1700000000',
      'webhook-signature': `v1,${mac}`,
    });
  });

  it('verifies within the tolerance, with one of several signatures, and refuses changes', () => {
    const now = new Date(1_700_000_000_000);
    const ts = 1_700_000_000;
    const sig = signWebhook(secret, id, ts, body);
    const ok = (h: { id: string; timestamp: string; signature: string }, b = body, at = now) => verifyWebhook(secret, h, b, { now: at });
    expect(ok({ id, timestamp: String(ts), signature: sig })).toBe(true);
    expect(ok({ id, timestamp: String(ts), signature: `v1,bm9wZQ== ${sig}` })).toBe(true);
    expect(ok({ id, timestamp: String(ts), signature: sig }, `${body} `)).toBe(false);
    expect(ok({ id: `${id}x`, timestamp: String(ts), signature: sig })).toBe(false);
    expect(ok({ id, timestamp: String(ts + 1), signature: sig })).toBe(false);
    expect(ok({ id, timestamp: String(ts), signature: sig.replace('v1,', 'v2,') })).toBe(false);
    expect(ok({ id, timestamp: String(ts), signature: sig }, body, new Date(now.getTime() + 301_000))).toBe(false);
    expect(verifyWebhook(newWebhookSecret(), { id, timestamp: String(ts), signature: sig }, body, { now })).toBe(false);
  });
});
