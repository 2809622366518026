/**
 * What makes a flood of bad keys cheap to refuse (issue 14). `auth.ts` uses it in this order:
 * 1. a key already verified is served from its cache (a SHA-256, no store, no scrypt);
 * 2. an address that failed too often is answered 429 with `Retry-After` before any lookup;
 * 3. an unknown key id is refused after one store lookup, with no hashing (`keys.ts`);
 * 4. the scrypt checks that remain run at most {@link AuthGuardOptions.maxConcurrent} at a time
 *    per process; the next {@link AuthGuardOptions.maxWaiting} wait up to
 *    {@link AuthGuardOptions.maxWaitMs}, the rest get 503 at once.
 * scrypt runs on libuv's thread pool (4 threads by default), which file and DNS work share:
 * two checks at a time leave it room for the blob store.
 * A limited address's 429 is held back {@link AuthGuardOptions.limitedDelayMs} before it is sent,
 * with `Connection: close`, and a connection over its cap (`auth.ts`) is kept open until then
 * rather than closed at once (at most {@link AuthGuardOptions.maxHeld} of each per process): that
 * bounds how many requests a flood from one address makes the server parse, and how many
 * connections a second it makes the server accept.
 */
import type { Socket } from 'node:net';
import { AuthBusyError, RateLimitedError } from './errors.js';

export interface AuthGuardOptions {
  /** scrypt checks running at once in this process. Default 2. */
  maxConcurrent?: number;
  /** Checks that may wait for a slot. Default 16. */
  maxWaiting?: number;
  /** How long a check waits for a slot before 503, ms. Default 500. */
  maxWaitMs?: number;
  /** Failed authentications an address may make at once before it is limited. Default 10. */
  failureBurst?: number;
  /** Failed authentications per second an address earns back. Default 1. */
  failuresPerSecond?: number;
  /** How long a limited address's 429 is held before it is sent, ms. Default 1 000. */
  limitedDelayMs?: number;
  /** 429s held at once in this process; beyond that they are sent at once. Default 1 024. */
  maxHeld?: number;
  /** Milliseconds clock, for tests. Default `performance.now`. */
  now?: () => number;
}

export const DEFAULT_AUTH_GUARD: Required<Omit<AuthGuardOptions, 'now'>> = {
  maxConcurrent: 2,
  maxWaiting: 16,
  maxWaitMs: 500,
  failureBurst: 10,
  failuresPerSecond: 1,
  limitedDelayMs: 1000,
  maxHeld: 1024,
};

export interface AuthGuard {
  /** Throws RateLimitedError (429, Retry-After) while `address` has no failures left. */
  admit(address: string): void;
  /** True while `address` has no failures left (its requests are answered 429). */
  limited(address: string): boolean;
  /** Wait before answering a limited address (see the file comment); at once when too many wait. */
  holdLimited(): Promise<void>;
  /**
   * A connection beyond a limited address's cap: kept open, so that its request waits for its
   * held 429 like the others, and closed after twice `limitedDelayMs` if that has not closed it
   * (at once when `maxHeld` connections are kept already). Closing it at once makes a flood
   * reconnect at once, and every accept costs the server.
   */
  holdConnection(socket: Socket): void;
  /** One failed authentication from `address`. */
  failed(address: string): void;
  /** Run one scrypt check within the concurrency bound; ServiceUnavailableError (503) when none is free in time. */
  hash<T>(fn: () => Promise<T>): Promise<T>;
  /** For tests and metrics: checks running and waiting, addresses tracked. */
  stats(): { running: number; waiting: number; addresses: number; held: number };
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createAuthGuard(options: AuthGuardOptions = {}): AuthGuard {
  const o = { ...DEFAULT_AUTH_GUARD, ...options };
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  const waiters: Array<() => void> = [];
  let running = 0;
  let held = 0;
  let lastSweep = now();

  /** The address's bucket, refilled to now; full buckets are forgotten once a minute. */
  function bucket(address: string): Bucket {
    const t = now();
    if (t - lastSweep > 60_000) {
      for (const [k, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * o.failuresPerSecond >= o.failureBurst) buckets.delete(k);
      lastSweep = t;
    }
    const b = buckets.get(address) ?? { tokens: o.failureBurst, at: t };
    b.tokens = Math.min(o.failureBurst, b.tokens + ((t - b.at) / 1000) * o.failuresPerSecond);
    b.at = t;
    return b;
  }

  function release(): void {
    const next = waiters.shift();
    if (next) next();
    else running -= 1;
  }

  return {
    admit(address) {
      const b = bucket(address);
      if (b.tokens >= 1) return;
      const wait = Math.max(1, Math.ceil((1 - b.tokens) / o.failuresPerSecond));
      throw new RateLimitedError(`too many failed authentications from this address; retry in ${wait} s with a valid key`, { retryAfterSeconds: wait });
    },
    limited(address) {
      const b = buckets.get(address);
      return b !== undefined && bucket(address).tokens < 1;
    },
    async holdLimited() {
      if (o.limitedDelayMs <= 0 || held >= o.maxHeld) return;
      held += 1;
      try {
        await new Promise((resolve) => setTimeout(resolve, o.limitedDelayMs).unref());
      } finally {
        held -= 1;
      }
    },
    holdConnection(socket) {
      if (o.limitedDelayMs <= 0 || held >= o.maxHeld) {
        socket.destroy();
        return;
      }
      held += 1;
      // Node's HTTP parser reads the socket natively, so it cannot be kept unread: its request is
      // parsed, refused before any lookup, and answered 429 after the hold, with Connection: close.
      const timer = setTimeout(() => socket.destroy(), 2 * o.limitedDelayMs).unref();
      socket.once('close', () => {
        clearTimeout(timer);
        held -= 1;
      });
    },
    failed(address) {
      const b = bucket(address);
      b.tokens = Math.max(0, b.tokens - 1);
      buckets.set(address, b);
    },
    async hash(fn) {
      if (running >= o.maxConcurrent) {
        if (waiters.length >= o.maxWaiting) throw busy();
        await new Promise<void>((resolve, reject) => {
          const entry = () => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            const i = waiters.indexOf(entry);
            if (i >= 0) waiters.splice(i, 1);
            reject(busy());
          }, o.maxWaitMs);
          waiters.push(entry);
        });
        // The slot was handed over by release(): `running` already counts it.
      } else {
        running += 1;
      }
      try {
        return await fn();
      } finally {
        release();
      }
    },
    stats: () => ({ running, waiting: waiters.length, addresses: buckets.size, held }),
  };
}

function busy(): AuthBusyError {
  return new AuthBusyError('too many API keys are being verified at once; retry shortly', { retryAfterSeconds: 1 });
}
