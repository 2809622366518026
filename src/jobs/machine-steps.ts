/**
 * The job machine's pure steps, as xstate's `initialTransition()` and `transition()` compute
 * them, without their per-call scaffolding. Each of those calls builds a throwaway actor (and
 * with it an actor system, and an eager initial snapshot of the machine without input, which
 * throws inside and is discarded) only to get an inert actor scope: about 0.07 ms a call, a
 * tenth of the web tier's CPU per submission. Here one inert scope, built the way xstate's
 * `createInertActorScope` builds it, serves every call. The machine itself still computes every
 * snapshot and every action (`getInitialSnapshot`, `transition`: its public ActorLogic
 * methods); nothing here decides a state.
 *
 * Sharing the scope is safe for this machine: it neither invokes nor spawns actors, so nothing
 * registers in the scope's system, and each step is synchronous, so the action collector set
 * for one call cannot see another's actions. `test/jobs/machine-steps.test.ts` checks the
 * steps against xstate's own functions.
 */
import { createActor } from 'xstate';
import { jobMachine, type JobEvent, type JobMachineInput } from '../machines/job.js';
import type { JobSnapshot } from './snapshot.js';

/** What an action executor receives: xstate's ExecutableActionObject, as far as we use it. */
export interface MachineAction {
  type: string;
  params: unknown;
}

let collect: MachineAction[] | null = null;

type Scope = Parameters<typeof jobMachine.transition>[2];

function inertScope(): Scope {
  // Never started: its constructor computes (and drops) an initial snapshot, once.
  const self = createActor(jobMachine, { input: { id: '', maxAttempts: 1 } });
  const noop = () => {};
  const scope = {
    self,
    defer: noop,
    id: '',
    logger: noop,
    sessionId: '',
    stopChild: noop,
    system: self.system,
    emit: noop,
    actionExecutor: (action: MachineAction) => {
      collect?.push({ type: action.type, params: action.params });
    },
  };
  return scope as unknown as Scope;
}

let scope: Scope | undefined;

function step<T>(run: (s: Scope) => T): [T, MachineAction[]] {
  scope ??= inertScope();
  const actions: MachineAction[] = [];
  collect = actions;
  try {
    return [run(scope), actions];
  } finally {
    collect = null;
  }
}

/** As `initialTransition(jobMachine, input)`: the initial snapshot and the actions to execute. */
export function initialJobStep(input: JobMachineInput): [JobSnapshot, MachineAction[]] {
  return step((s) => jobMachine.getInitialSnapshot(s, input));
}

/**
 * As `transition(jobMachine, snapshot, event)`: the next snapshot (the very same object when
 * no transition was enabled) and the actions to execute.
 */
export function jobStep(snapshot: JobSnapshot, event: JobEvent): [JobSnapshot, MachineAction[]] {
  return step((s) => jobMachine.transition(snapshot, event, s));
}
