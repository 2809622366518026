/**
 * The circuit-breaker machine: whether calls to a backend may go through.
 *
 * ```
 *            N consecutive failures, or failure rate >= threshold over the window
 *   closed ------------------------------------------------------------------> open
 *     ^                                                                        |
 *     |  probe succeeds                              REQUEST after cool-down   |
 *     +--------------------- half-open <---------------------------------------+
 *                               |   ^
 *                               +---+ probe fails: back to open, cool-down restarts
 * ```
 *
 * The runner (`controller/breaker.ts`) sends `REQUEST` before a call and `SUCCESS` or
 * `FAILURE` after it, each stamped with `at` (epoch ms). The machine answers a REQUEST with a
 * `permit` or a `reject { retryAfterMs }` action. In half-open exactly one call (the probe) is
 * permitted at a time. Nothing is delayed inside: the cool-down is decided by comparing the
 * REQUEST's `at` with `openedAt`, so time always comes from outside.
 */
import { assign, initialTransition, setup, transition, type SnapshotFrom } from 'xstate';

export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface BreakerPolicy {
  /** Open after this many failures in a row. Default 5. */
  failureThreshold: number;
  /** Also open when this fraction (0..1] of the last `windowSize` calls failed. Default: off. */
  failureRateThreshold?: number;
  /** Calls remembered for the failure rate; the rate is only judged once the window is full. Default 20. */
  windowSize: number;
  /** Stay open this long before letting a probe through, ms. Default 30 000. */
  cooldownMs: number;
}

export function defaultBreakerPolicy(overrides: Partial<BreakerPolicy> = {}): BreakerPolicy {
  return { failureThreshold: 5, windowSize: 20, cooldownMs: 30_000, ...overrides };
}

export type BreakerEvent =
  | { type: 'REQUEST'; at: number }
  | { type: 'SUCCESS'; at: number }
  | { type: 'FAILURE'; at: number };

export interface BreakerContext {
  policy: BreakerPolicy;
  consecutiveFailures: number;
  /** Outcomes of the most recent calls, oldest first: true for a failure. */
  window: boolean[];
  /** When it last opened (epoch ms). */
  openedAt: number | null;
  /** When the half-open probe was let through; a probe that never reports back expires after a cool-down. */
  probeAt: number | null;
}

export interface PermitParams {
  probe: boolean;
}
export interface RejectParams {
  retryAfterMs: number;
}
export interface BreakerActionParams {
  permit: PermitParams;
  reject: RejectParams;
}
export type BreakerAction = { [K in keyof BreakerActionParams]: { type: K; params: BreakerActionParams[K] } }[keyof BreakerActionParams];
export const BREAKER_ACTION_TYPES: readonly (keyof BreakerActionParams)[] = ['permit', 'reject'];

function pushOutcome(window: boolean[], failed: boolean, size: number): boolean[] {
  const next = [...window, failed];
  return next.length > size ? next.slice(next.length - size) : next;
}

export const breakerMachine = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as { policy?: Partial<BreakerPolicy> },
  },
  actions: {
    // Answers to a REQUEST: no-ops here, read by the runner.
    permit: (_, _params: PermitParams) => {},
    reject: (_, _params: RejectParams) => {},

    recordSuccess: assign(({ context }) => ({
      consecutiveFailures: 0,
      window: pushOutcome(context.window, false, context.policy.windowSize),
    })),
    recordFailure: assign(({ context }) => ({
      consecutiveFailures: context.consecutiveFailures + 1,
      window: pushOutcome(context.window, true, context.policy.windowSize),
    })),
    markOpen: assign(({ event }) => ({ openedAt: event.at, probeAt: null, consecutiveFailures: 0, window: [] })),
    markProbe: assign(({ event }) => ({ probeAt: event.at })),
    reset: assign(() => ({ consecutiveFailures: 0, window: [], openedAt: null, probeAt: null })),
  },
  guards: {
    /** This failure makes N in a row, or pushes the full window's failure rate over the threshold. */
    trips: ({ context }) => {
      const { failureThreshold, failureRateThreshold, windowSize } = context.policy;
      if (context.consecutiveFailures + 1 >= failureThreshold) return true;
      if (failureRateThreshold === undefined) return false;
      const window = pushOutcome(context.window, true, windowSize);
      if (window.length < windowSize) return false;
      return window.filter(Boolean).length / window.length >= failureRateThreshold;
    },
    cooledDown: ({ context, event }) => context.openedAt === null || event.at - context.openedAt >= context.policy.cooldownMs,
    /** A probe is out and has not yet had a cool-down's time to report back. */
    probeOut: ({ context, event }) => context.probeAt !== null && event.at - context.probeAt < context.policy.cooldownMs,
  },
}).createMachine({
  id: 'breaker',
  initial: 'closed',
  context: ({ input }) => ({
    policy: defaultBreakerPolicy(input.policy),
    consecutiveFailures: 0,
    window: [],
    openedAt: null,
    probeAt: null,
  }),
  states: {
    closed: {
      on: {
        REQUEST: { actions: { type: 'permit', params: { probe: false } } },
        SUCCESS: { actions: 'recordSuccess' },
        FAILURE: [{ guard: 'trips', target: 'open', actions: 'markOpen' }, { actions: 'recordFailure' }],
      },
    },
    open: {
      on: {
        REQUEST: [
          { guard: 'cooledDown', target: 'half-open', actions: ['markProbe', { type: 'permit', params: { probe: true } }] },
          {
            actions: {
              type: 'reject',
              params: ({ context, event }) => ({
                retryAfterMs: Math.max(0, (context.openedAt ?? event.at) + context.policy.cooldownMs - event.at),
              }),
            },
          },
        ],
        // Outcomes of calls that started before it opened say nothing new.
      },
    },
    'half-open': {
      on: {
        REQUEST: [
          {
            guard: 'probeOut',
            actions: {
              type: 'reject',
              params: ({ context, event }) => ({
                retryAfterMs: Math.max(0, (context.probeAt ?? event.at) + context.policy.cooldownMs - event.at),
              }),
            },
          },
          { actions: ['markProbe', { type: 'permit', params: { probe: true } }] },
        ],
        SUCCESS: { target: 'closed', actions: 'reset' },
        FAILURE: { target: 'open', actions: 'markOpen' },
      },
    },
  },
});

export type BreakerMachine = typeof breakerMachine;
export type BreakerSnapshot = SnapshotFrom<BreakerMachine>;

export function initialBreaker(policy: Partial<BreakerPolicy> = {}): BreakerSnapshot {
  return initialTransition(breakerMachine, { policy })[0];
}

/** One pure step: the next snapshot and the answers (permit/reject) it asks the runner to act on. */
export function stepBreaker(snapshot: BreakerSnapshot, event: BreakerEvent): { snapshot: BreakerSnapshot; actions: BreakerAction[] } {
  const [next, actions] = transition(breakerMachine, snapshot, event);
  const effects = actions.filter((a) => (BREAKER_ACTION_TYPES as readonly string[]).includes(a.type));
  return { snapshot: next, actions: effects.map((a) => ({ type: a.type, params: a.params }) as BreakerAction) };
}

export function breakerState(snapshot: BreakerSnapshot): BreakerState {
  return snapshot.value as BreakerState;
}
