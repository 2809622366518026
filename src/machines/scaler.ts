/**
 * The scaler machine: the controller's fleet policy as pure states and transitions.
 *
 * ```
 *            jobs wait                    instances booted, work in hand
 *   idle ----------------> scaling-out --------------------------------> steady
 *    ^                        ^                                            |
 *    |                        +---- jobs wait beyond capacity (any state) -+ nothing waits
 *    |  fleet at zero                                                      v
 *    +---- cooldown <------- stop surplus idle workers --------------- draining
 *        (no further scale-in for cooldownSeconds; scale-out is never held)
 * ```
 *
 * Every `TICK` carries the controller's observations (queue depth, the fleet's instances,
 * the workers' heartbeats) and the time `at` (epoch ms). The machine answers with named
 * effect actions, `launch { count, retire? }`, `stop { ids }` and `retire { ids }`, which the
 * controller runs after storing the snapshot. Nothing here does I/O and nothing is delayed: the idle linger and
 * the cool-down compare `at` with times kept in the context.
 *
 * The policy itself is pure functions in `scaler-policy.ts`: {@link stepScaler} assesses each
 * tick there (`assess`) against the context before the transition, and the TICK event carries
 * that assessment, which every guard and effect of the transition reads.
 */
import { assign, initialTransition, setup, transition, type SnapshotFrom } from 'xstate';
import { assess, defaultScalerPolicy, stillRetiring, type Assessment, type ScalerContext, type ScalerObservation, type ScalerPolicy } from './scaler-policy.js';

export {
  assess,
  defaultScalerPolicy,
  desiredWorkers,
  rateWorkers,
  type Assessment,
  type DesiredInput,
  type FleetSummary,
  type ScalerContext,
  type ScalerObservation,
  type ScalerPolicy,
  type ScalerSample,
} from './scaler-policy.js';

export const SCALER_STATES = ['idle', 'scaling-out', 'steady', 'draining', 'cooldown'] as const;
export type ScalerState = (typeof SCALER_STATES)[number];

/** A tick: the observations, and what they mean under the context before this transition (see {@link stepScaler}). */
export type ScalerEvent = { type: 'TICK'; assessment: Assessment } & ScalerObservation;

export interface ScalerInput {
  policy?: Partial<ScalerPolicy>;
}

export interface LaunchParams {
  count: number;
  /**
   * How many of them to launch retiring: the fleet will not need them once the backlog they
   * are launched for is done, so they exit when they find the queue empty. Absent when none.
   */
  retire?: number;
}
export interface StopParams {
  ids: string[];
}

/** The effect actions by name, with their params. */
export interface ScalerActionParams {
  launch: LaunchParams;
  stop: StopParams;
  /** Finish the work in hand and what waits, then exit at the first empty receive. */
  retire: StopParams;
}
export type ScalerAction = { [K in keyof ScalerActionParams]: { type: K; params: ScalerActionParams[K] } }[keyof ScalerActionParams];
export const SCALER_ACTION_TYPES: readonly (keyof ScalerActionParams)[] = ['launch', 'stop', 'retire'];

// Effect params read the event's assessment, made from the context before any action of the
// transition assigned it, so they agree with the guards that chose the transition.
const launchActions = [
  {
    type: 'launch' as const,
    params: ({ event }: { event: ScalerEvent }): LaunchParams => {
      const a = event.assessment;
      return a.launchRetiring > 0 ? { count: a.launch, retire: a.launchRetiring } : { count: a.launch };
    },
  },
  'observe' as const,
  'markLaunch' as const,
];
const retireAction = {
  type: 'retire' as const,
  params: ({ event }: { event: ScalerEvent }) => ({ ids: event.assessment.retire }),
};
// A tick that stops idle workers may also retire busy ones (stepScaler drops an empty retire).
const stopActions = [
  { type: 'stop' as const, params: ({ event }: { event: ScalerEvent }) => ({ ids: event.assessment.stop }) },
  retireAction,
  'markRetire' as const,
  'observe' as const,
  'markStop' as const,
];
const retireActions = [retireAction, 'markRetire' as const, 'observe' as const];

export const scalerMachine = setup({
  types: {
    context: {} as ScalerContext,
    events: {} as ScalerEvent,
    input: {} as ScalerInput,
  },
  actions: {
    // Effects: no-ops here. The controller executes them after storing the snapshot.
    launch: (_, _params: LaunchParams) => {},
    stop: (_, _params: StopParams) => {},
    retire: (_, _params: StopParams) => {},

    observe: assign(({ context, event }) => {
      const a = event.assessment;
      return {
        desired: a.desired,
        jobSeconds: a.jobSeconds,
        bootSeconds: a.bootSeconds,
        arrivalRate: a.arrivalRate,
        samples: a.samples,
        previous: a.previous,
        lastArrivalAt: a.lastArrivalAt,
        sparseAtLastArrival: a.sparse,
        pendingIds: a.pendingIds,
        knownIds: a.knownIds,
        // The ids asked to retire, this tick's too when `markRetire` ran first, while still live.
        retiringIds: stillRetiring(context.retiringIds, a.reportedRetiringIds, a.knownIds),
        last: a.summary,
      };
    }),
    markLaunch: assign(({ event }) => ({ lastLaunchAt: event.at })),
    // Before `observe`, which then keeps only the ids still live.
    markRetire: assign(({ context, event }) => ({ retiringIds: [...context.retiringIds, ...event.assessment.retire] })),
    markStop: assign(({ event }) => ({ lastStopAt: event.at })),
  },
  guards: {
    /** Jobs wait beyond the capacity we have (or the floor is not met). */
    shouldLaunch: ({ event }) => event.assessment.launch > 0,
    /** Nothing waited for idleSeconds, not cooling down, and idle workers exceed what stays. */
    shouldStop: ({ event }) => event.assessment.stop.length > 0,
    /** Busy workers exceed what the fleet needs once the queue is empty. */
    shouldRetire: ({ event }) => event.assessment.retire.length > 0,
    /** No instance at all and nothing to do. */
    isIdle: ({ event }) => {
      const a = event.assessment;
      return a.capacity === 0 && a.summary.waiting === 0 && a.summary.inFlight === 0;
    },
    /** Instances are still booting. */
    isBooting: ({ event }) => event.assessment.summary.pending > 0,
    /** Nothing waits in the queue: the idle window is running. */
    nothingWaits: ({ event }) => event.assessment.summary.waiting === 0,
    /** Within cooldownSeconds of the last scale-in. */
    coolingDown: ({ context, event }) =>
      context.lastStopAt !== null && event.at - context.lastStopAt < context.policy.cooldownSeconds * 1000,
  },
}).createMachine({
  id: 'scaler',
  initial: 'idle',
  context: ({ input }) => {
    const policy = defaultScalerPolicy(input.policy);
    return {
      policy,
      desired: policy.minWorkers,
      jobSeconds: policy.defaultJobSeconds,
      bootSeconds: policy.defaultBootSeconds,
      arrivalRate: 0,
      samples: [],
      previous: null,
      lastArrivalAt: null,
      sparseAtLastArrival: true,
      lastLaunchAt: null,
      lastStopAt: null,
      pendingIds: [],
      knownIds: [],
      retiringIds: [],
      last: { waiting: 0, inFlight: 0, pending: 0, running: 0, busy: 0, idle: 0 },
    };
  },
  on: {
    // Checked in order, in every state that does not handle TICK itself: scale out first,
    // because a backlog never waits.
    TICK: [
      { guard: 'shouldLaunch', target: '.scaling-out', actions: launchActions },
      { guard: 'shouldStop', target: '.cooldown', actions: stopActions },
      { guard: 'shouldRetire', target: '.draining', actions: retireActions },
      { guard: 'isIdle', target: '.idle', actions: 'observe' },
      { guard: 'nothingWaits', target: '.draining', actions: 'observe' },
      { guard: 'isBooting', target: '.scaling-out', actions: 'observe' },
      { target: '.steady', actions: 'observe' },
    ],
  },
  states: {
    idle: {},
    'scaling-out': {},
    steady: {},
    draining: {},
    cooldown: {
      on: {
        // Scale-in is paused until the cool-down has passed; scale-out is never held.
        TICK: [
          { guard: 'shouldLaunch', target: 'scaling-out', actions: launchActions },
          { guard: 'isIdle', target: 'idle', actions: 'observe' },
          { guard: 'coolingDown', target: 'cooldown', actions: 'observe' },
        ],
      },
    },
  },
});

export type ScalerMachine = typeof scalerMachine;
export type ScalerSnapshot = SnapshotFrom<ScalerMachine>;

/** The machine's first snapshot for a policy. */
export function initialScaler(policy: Partial<ScalerPolicy> = {}): ScalerSnapshot {
  return initialTransition(scalerMachine, { policy })[0];
}

/**
 * One pure step: assess the tick against the snapshot's context, feed both through xstate's
 * `transition()` as one TICK, and keep only the effect actions.
 * The caller stores the returned snapshot first, then runs the actions.
 */
export function stepScaler(snapshot: ScalerSnapshot, observation: ScalerObservation): { snapshot: ScalerSnapshot; actions: ScalerAction[] } {
  const assessment = assess(snapshot.context, observation);
  const [next, actions] = transition(scalerMachine, snapshot, { type: 'TICK', ...observation, assessment });
  const effects = actions.filter(
    (a): a is typeof a & ScalerAction =>
      (SCALER_ACTION_TYPES as readonly string[]).includes(a.type) && !(a.type === 'retire' && (a.params as StopParams).ids.length === 0),
  );
  return { snapshot: next, actions: effects.map((a) => ({ type: a.type, params: a.params }) as ScalerAction) };
}

/** The snapshot's state name. */
export function scalerState(snapshot: ScalerSnapshot): ScalerState {
  return snapshot.value as ScalerState;
}
