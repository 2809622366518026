/**
 * Errors of the controller area: the circuit breaker and the fleets.
 */
import { FacefleetError, type FacefleetErrorOptions } from '../errors.js';

/**
 * A call was refused without being made because its circuit breaker is open (or a half-open
 * probe is already out). Retryable: try again after `retryAfterSeconds`.
 */
export class CircuitOpenError extends FacefleetError {
  readonly code = 'circuit-open';
  readonly retryable = true;
  /** Seconds until the breaker lets a probe through. */
  readonly retryAfterSeconds: number;
  /** The breaker's name, e.g. `controller` or `web-stores`. */
  readonly breaker: string;

  constructor(message: string, options: FacefleetErrorOptions & { retryAfterSeconds: number; breaker: string }) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.breaker = options.breaker;
  }
}

/** A fleet could not start or stop workers for a reason that may pass (capacity, throttling, a dead spawn). */
export class FleetUnavailableError extends FacefleetError {
  readonly code = 'fleet-unavailable';
  readonly retryable = true;
}

