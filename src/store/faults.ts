/**
 * Fault injection for reliability tests: wrap a store so chosen methods fail on purpose.
 * The entry points read a plan from an environment variable (e.g. FACEFLEET_FAULTS) in tests
 * only and pass the JSON here; nothing in this module reads the environment.
 *
 * ```ts
 * const queue = withFaults(stores.queue, { receive: { times: 2 } });   // next 2 receives throw
 * const plans = parseFaultPlans('{"jobs":{"save":{"probability":0.2,"error":"conflict"}}}');
 * ```
 */
import { FacefleetError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  NotFoundError,
  StorePermanentError,
  StoreUnavailableError,
  VersionConflictError,
} from './errors.js';

/** Named errors a plan can ask for (JSON cannot carry an Error). */
export const FAULT_ERRORS = {
  unavailable: (method: string) => new StoreUnavailableError(`injected fault: ${method} unavailable`),
  permanent: (method: string) => new StorePermanentError(`injected fault: ${method} refused`),
  conflict: (method: string) => new VersionConflictError(`injected fault: ${method} version conflict`),
  'not-found': (method: string) => new NotFoundError(`injected fault: ${method} not found`),
} as const;

export type FaultErrorName = keyof typeof FAULT_ERRORS;

/**
 * When one method fails. Every condition given must hold for a call to fail; with none given,
 * every call fails.
 */
export interface FaultSpec {
  /** Let this many calls through before the fault starts. Default 0. */
  after?: number;
  /** Fail only this many calls, then pass everything. Default: no limit. */
  times?: number;
  /** Fail only while the clock is before this epoch-ms time. */
  until?: number;
  /** Fail only for this many ms after the wrap was made (JSON-friendly form of `until`). */
  forMs?: number;
  /** Fail each eligible call with this probability (0..1). Default 1. */
  probability?: number;
  /** Wait this long before failing, ms (a slow backend that then errors). Default 0. */
  delayMs?: number;
  /** The error: a name, or a factory for any error. Default `unavailable` (StoreUnavailableError). */
  error?: FaultErrorName | ((method: string) => Error);
}

/** Method name to its fault. */
export type FaultPlan = Record<string, FaultSpec>;

export interface FaultOptions {
  /** Epoch-ms clock for `until`/`forMs`. Default Date.now. */
  now?: () => number;
  /** Random source in [0, 1) for `probability`. Default Math.random. */
  random?: () => number;
  /** Told of every injected failure (for logs and test assertions). */
  onFault?: (method: string, error: Error) => void;
}

interface MethodState {
  spec: FaultSpec;
  calls: number;
  fired: number;
  until?: number;
}

/**
 * A Proxy of `target` whose methods named in `plan` reject with the planned error when their
 * conditions hold, and otherwise call through. Methods not in the plan, and non-method
 * properties, pass through untouched. Faulted methods always return a rejected promise, so
 * use this on the async ports.
 */
export function withFaults<T extends object>(target: T, plan: FaultPlan, options: FaultOptions = {}): T {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const start = now();
  const states = new Map<string, MethodState>();
  for (const [method, spec] of Object.entries(plan)) {
    validateSpec(method, spec);
    const untilTimes = [spec.until, spec.forMs !== undefined ? start + spec.forMs : undefined].filter(
      (t): t is number => t !== undefined,
    );
    states.set(method, { spec, calls: 0, fired: 0, until: untilTimes.length ? Math.min(...untilTimes) : undefined });
  }

  return new Proxy(target, {
    get(obj, prop, receiver) {
      // `putVisible` is an optional `put` in two steps: with faults planned for `put`, hide it,
      // so callers fall back to `put` and meet them.
      if (prop === 'putVisible' && states.has('put')) return undefined;
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      const state = states.get(prop);
      // Bind to the real target: adapters may use private state a Proxy `this` cannot reach.
      if (!state) return value.bind(obj);
      return (...args: unknown[]) => {
        if (!shouldFail(state, now, random)) return Reflect.apply(value, obj, args);
        const err = makeError(prop, state.spec.error);
        options.onFault?.(prop, err);
        const delay = state.spec.delayMs ?? 0;
        if (delay <= 0) return Promise.reject(err);
        return new Promise((_, reject) => setTimeout(() => reject(err), delay));
      };
    },
  });
}

function shouldFail(state: MethodState, now: () => number, random: () => number): boolean {
  const { spec } = state;
  state.calls += 1;
  if (state.calls <= (spec.after ?? 0)) return false;
  if (spec.times !== undefined && state.fired >= spec.times) return false;
  if (state.until !== undefined && now() >= state.until) return false;
  if (spec.probability !== undefined && random() >= spec.probability) return false;
  state.fired += 1;
  return true;
}

function makeError(method: string, error: FaultSpec['error']): Error {
  if (typeof error === 'function') return error(method);
  return FAULT_ERRORS[error ?? 'unavailable'](method);
}

function validateSpec(method: string, spec: FaultSpec): void {
  const bad = (why: string) => new FaultPlanError(`fault for ${method}: ${why}`);
  if (typeof spec !== 'object' || spec === null) throw bad('must be an object');
  for (const key of ['after', 'times', 'until', 'forMs', 'delayMs'] as const) {
    const v = spec[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw bad(`${key} must be a number >= 0`);
  }
  if (spec.probability !== undefined && !(typeof spec.probability === 'number' && spec.probability >= 0 && spec.probability <= 1)) {
    throw bad('probability must be between 0 and 1');
  }
  if (spec.error !== undefined && typeof spec.error !== 'function' && !(spec.error in FAULT_ERRORS)) {
    throw bad(`error must be one of ${Object.keys(FAULT_ERRORS).join(', ')}`);
  }
}

/** A fault plan that cannot be used. Not retryable: fix the test's plan. */
export class FaultPlanError extends FacefleetError {
  readonly code = 'fault-plan';
  readonly retryable = false;
}

/**
 * Parse fault plans from JSON: an object of store name (`blobs`, `jobs`, `queue`, `gallery`,
 * `keys`, `registry`, or whatever names the caller uses) to a {@link FaultPlan}, e.g.
 * `{"queue":{"receive":{"times":3}},"jobs":{"save":{"probability":0.1,"error":"conflict"}}}`.
 * An empty or blank string is no plans. Throws FaultPlanError on bad JSON or a bad spec.
 */
export function parseFaultPlans(json: string | undefined): Record<string, FaultPlan> {
  if (json === undefined || json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new FaultPlanError('fault plans are not valid JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FaultPlanError('fault plans must be a JSON object of store name to plan');
  }
  const plans: Record<string, FaultPlan> = {};
  for (const [store, plan] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) {
      throw new FaultPlanError(`fault plan for ${store} must be an object of method name to fault`);
    }
    for (const [method, spec] of Object.entries(plan as FaultPlan)) validateSpec(`${store}.${method}`, spec);
    plans[store] = plan as FaultPlan;
  }
  return plans;
}

/**
 * Wrap each store in `stores` that has a plan in `plans`; others are returned as they are.
 * `close` is never faulted unless a plan names it.
 */
export function applyFaultPlans<S extends object>(
  stores: S,
  plans: Record<string, FaultPlan>,
  options?: FaultOptions,
): S {
  const out: Record<string, unknown> = { ...(stores as Record<string, unknown>) };
  for (const [name, plan] of Object.entries(plans)) {
    const store = out[name];
    if (typeof store !== 'object' || store === null) continue;
    const onFault = options?.onFault;
    // Name the store in what onFault hears: `queue.receive`, not just `receive`.
    out[name] = withFaults(store, plan, { ...options, onFault: onFault && ((method, error) => onFault(`${name}.${method}`, error)) });
  }
  return out as S;
}

/**
 * Parse `json` ({@link parseFaultPlans}) and wrap the named stores ({@link applyFaultPlans}),
 * logging each injected failure at warn so a reliability test's logs show what was forced.
 * What the entry points call with the FACEFLEET_FAULTS value.
 */
export function applyFaultPlan<S extends object>(stores: S, json: string, log?: Logger): S {
  const plans = parseFaultPlans(json);
  log?.warn({ faults: plans }, 'fault injection is on: store calls will fail on purpose');
  return applyFaultPlans(stores, plans, {
    onFault: (method, error) => log?.warn({ method, code: (error as { code?: string }).code }, 'injected store fault'),
  });
}
