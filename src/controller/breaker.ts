/**
 * The circuit breaker at run time: drives the pure breaker machine (`machines/breaker.ts`)
 * around real calls. The controller wraps every cloud call in one; the web tier wraps its
 * store and queue calls in another (`guardPort`).
 */
import { toFacefleetError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  breakerState,
  initialBreaker,
  stepBreaker,
  type BreakerAction,
  type BreakerEvent,
  type BreakerSnapshot,
  type BreakerState,
} from '../machines/breaker.js';
import { CircuitOpenError } from './errors.js';

export type { BreakerState } from '../machines/breaker.js';

export interface BreakerOptions {
  /** Shown in logs, metrics and errors, e.g. `controller`, `web-stores`. */
  name: string;
  /** Open after this many counted failures in a row. */
  failureThreshold: number;
  /** Also open when this fraction (0..1] of the last `windowSize` calls failed. Default: off. */
  failureRateThreshold?: number;
  /** Calls remembered for the failure rate. Default 20. */
  windowSize?: number;
  /** How long it stays open before one probe call is let through, ms. */
  cooldownMs: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  log?: Logger;
}

export interface Breaker {
  readonly name: string;
  /**
   * Run `fn` unless the breaker is open. While open, and in half-open while the probe is out,
   * rejects with {@link CircuitOpenError} without calling `fn`. Otherwise returns or rethrows
   * what `fn` does, and records the outcome.
   */
  call<T>(fn: () => Promise<T>): Promise<T>;
  state(): BreakerState;
  /** Called on every state change, after it happened. Returns an unsubscribe function. */
  onChange(listener: (state: BreakerState, previous: BreakerState) => void): () => void;
}

/**
 * Whether an error says the backend is unwell: a retryable failure (unavailable, timeout,
 * throttled, unexpected) other than a lost conditional write. A not-found, a bad request or a
 * version conflict is the backend answering, so it counts as a success.
 */
export function countsAsFailure(err: unknown): boolean {
  const e = toFacefleetError(err);
  return e.retryable && e.code !== 'version-conflict' && e.code !== 'circuit-open';
}

export function createBreaker(options: BreakerOptions): Breaker {
  const now = options.now ?? Date.now;
  const listeners = new Set<(state: BreakerState, previous: BreakerState) => void>();
  let snapshot: BreakerSnapshot = initialBreaker({
    failureThreshold: options.failureThreshold,
    cooldownMs: options.cooldownMs,
    ...(options.failureRateThreshold !== undefined ? { failureRateThreshold: options.failureRateThreshold } : {}),
    ...(options.windowSize !== undefined ? { windowSize: options.windowSize } : {}),
  });

  // The steady state, closed with a clean record, is what every call sees when all is well:
  // there a REQUEST only permits and a SUCCESS changes nothing, so skip the machine step (an
  // xstate transition costs ~0.1 ms, and a long-poll makes dozens of guarded reads a second).
  const PERMIT: BreakerAction[] = [{ type: 'permit', params: { probe: false } }];
  function unchanged(event: BreakerEvent): BreakerAction[] | undefined {
    if (breakerState(snapshot) !== 'closed') return undefined;
    if (event.type === 'REQUEST') return PERMIT;
    const { consecutiveFailures, window, policy } = snapshot.context;
    if (event.type === 'SUCCESS' && consecutiveFailures === 0 && window.length === policy.windowSize && !window.includes(true)) return [];
    return undefined;
  }

  function send(event: BreakerEvent): BreakerAction[] {
    const fast = unchanged(event);
    if (fast) return fast;
    const previous = breakerState(snapshot);
    const step = stepBreaker(snapshot, event);
    // The snapshot is stored before anyone hears about the change.
    snapshot = step.snapshot;
    const state = breakerState(snapshot);
    if (state !== previous) {
      const fields = { breaker: options.name, from: previous, to: state };
      if (state === 'open') options.log?.warn(fields, 'circuit breaker opened');
      else options.log?.info(fields, `circuit breaker ${state}`);
      for (const listener of listeners) {
        try {
          listener(state, previous);
        } catch (err) {
          options.log?.warn({ breaker: options.name, err: toFacefleetError(err).toJSON() }, 'breaker listener failed');
        }
      }
    }
    return step.actions;
  }

  return {
    name: options.name,
    async call<T>(fn: () => Promise<T>): Promise<T> {
      const answer = send({ type: 'REQUEST', at: now() }).find((a) => a.type === 'permit' || a.type === 'reject');
      if (answer?.type === 'reject') {
        throw new CircuitOpenError(`circuit breaker ${options.name} is open`, {
          breaker: options.name,
          retryAfterSeconds: Math.max(1, Math.ceil(answer.params.retryAfterMs / 1000)),
        });
      }
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        send({ type: countsAsFailure(err) ? 'FAILURE' : 'SUCCESS', at: now() });
        throw err;
      }
      send({ type: 'SUCCESS', at: now() });
      return result;
    },
    state: () => breakerState(snapshot),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Methods that bypass the breaker: releasing resources must work even while it is open. */
const UNGUARDED = new Set<PropertyKey>(['close']);

/**
 * Wrap every method of a port (BlobStore, JobStore, JobQueue, ...) so each call goes through
 * `breaker`. `close` is passed straight through. Port methods are async, so the wrapped ones
 * return what the originals do; other properties are untouched.
 */
export function guardPort<T extends object>(port: T, breaker: Pick<Breaker, 'call'>): T {
  return new Proxy(port, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || UNGUARDED.has(key)) return value;
      return (...args: unknown[]) => breaker.call(async () => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}
