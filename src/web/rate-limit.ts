import type { Request, RequestHandler } from 'express';
import { ctx } from './context.js';
import { RateLimitedError } from './errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token-bucket rate limiter: `ratePerSecond` tokens a second, bursts up to 2x that.
 * Keyed by API key id when the request is authenticated, else by client address.
 * `now` is injectable for tests. Idle buckets (full again) are forgotten. A rate of 0 turns limiting off.
 */
export function createRateLimiter(options: { ratePerSecond: number; now?: () => number }): RequestHandler & { size(): number } {
  const rate = options.ratePerSecond;
  const burst = Math.max(1, rate * 2);
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  function take(key: string): number {
    const t = now();
    // A bucket untouched for burst/rate seconds is full again, so it carries no state worth keeping.
    if (t - lastSweep > 60_000) {
      for (const [k, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * rate >= burst) buckets.delete(k);
      lastSweep = t;
    }
    const bucket = buckets.get(key) ?? { tokens: burst, at: t };
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * rate);
    bucket.at = t;
    buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  }

  const middleware = ((req: Request, res, next) => {
    if (!(rate > 0) || !Number.isFinite(rate)) {
      next();
      return;
    }
    const principal = ctx(res).principal;
    const key = principal?.keyId ? `key:${principal.keyId}` : `ip:${req.socket.remoteAddress ?? 'unknown'}`;
    const wait = take(key);
    if (wait > 0) throw new RateLimitedError(`rate limit of ${rate} requests per second exceeded`, { retryAfterSeconds: wait });
    next();
  }) as RequestHandler & { size(): number };
  middleware.size = () => buckets.size;
  return middleware;
}
