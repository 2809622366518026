/**
 * The scaler's policy, as pure functions: what one tick of observations means under the
 * context the scaler machine keeps (`assess`), and the worker count it aims for
 * (`desiredWorkers`). The machine (`scaler.ts`) carries the assessment in each TICK event
 * and only chooses states and effects from it.
 *
 * Policy, in short (docs/scaling.md has the measurements behind it):
 * - Scale out at once when jobs wait, to the larger of what the arrival rate keeps busy at
 *   `targetUtilization` and what the backlog needs: the fewest workers that finish it within
 *   `latencySlack` of what maxWorkers would (see {@link desiredWorkers}). Booting instances
 *   count as capacity, and no worker is launched for work the running ones will finish
 *   before it could boot.
 * - Scale in only while nothing waits, and only idle workers (a fresh heartbeat saying not
 *   busy): never a job in hand. It keeps the busy workers, what the arrival rate needs, and
 *   one warm worker until no job has arrived for `idleSeconds`.
 *   With the defaults the fleet reaches zero.
 * - Sparse arrivals (the window's mean gap between jobs is `idleSeconds` or more) keep no
 *   worker warm: a job that arrives that rarely would find the warm worker gone anyway.
 * - A busy worker the fleet will not need once the queue is empty is `retire`d: it finishes
 *   its job and whatever waits, and exits the moment it finds the queue empty, instead of
 *   idling until a tick sees it. A fleet that cannot retire ignores the action; the worker is
 *   then stopped by the first tick that sees it idle, as before.
 */
import type { Instance } from '../controller/fleet.js';
import type { QueueDepth, WorkerHeartbeat } from '../store/ports.js';

/** The policy knobs. See {@link defaultScalerPolicy} for the defaults. */
export interface ScalerPolicy {
  /** Never fewer workers than this. Default 0: scale to zero when idle. */
  minWorkers: number;
  /** Never more. Default 15, the classic design's app tier. */
  maxWorkers: number;
  /**
   * The last worker stays until no job has arrived for this long (or for the boot time, if
   * that is shorter: keeping a worker warm longer than a new one takes to boot costs more than
   * booting it again). Default 30.
   */
  idleSeconds: number;
  /** After a scale-in, no further scale-in for this long. Scale-out is never held. Default 10. */
  cooldownSeconds: number;
  /**
   * How much later than the full fleet (maxWorkers) a backlog may finish, as a fraction, so
   * fewer instances are launched for it. 0 always launches one worker per job up to the max
   * (the classic behaviour). Default 0.1.
   */
  latencySlack: number;
  /** Fraction of its time a worker should be busy under steady arrivals. Default 0.45. */
  targetUtilization: number;
  /** Arrival rate is measured over this window. Default 30. */
  rateWindowSeconds: number;
  /** Seconds per job assumed until workers report their own mean. Default 0.5. */
  defaultJobSeconds: number;
  /** Boot time assumed until an instance is seen going from pending to running. Default 30 (EC2). */
  defaultBootSeconds: number;
  /** A heartbeat older than this says nothing: its worker is neither busy nor idle. Default 30. */
  staleHeartbeatSeconds: number;
}

/** Defaults that reproduce the classic bounds (15 max, zero when idle). */
export function defaultScalerPolicy(overrides: Partial<ScalerPolicy> = {}): ScalerPolicy {
  return {
    minWorkers: 0,
    maxWorkers: 15,
    idleSeconds: 30,
    cooldownSeconds: 10,
    latencySlack: 0.1,
    targetUtilization: 0.45,
    rateWindowSeconds: 30,
    defaultJobSeconds: 0.5,
    defaultBootSeconds: 30,
    staleHeartbeatSeconds: 30,
    ...overrides,
  };
}

/** What the controller saw at one tick. `at` is epoch milliseconds. */
export interface ScalerObservation {
  at: number;
  depth: QueueDepth;
  instances: Instance[];
  workers: WorkerHeartbeat[];
}

/** The fleet as the last tick saw it; shown by `facefleet status`. */
export interface FleetSummary {
  waiting: number;
  inFlight: number;
  pending: number;
  running: number;
  busy: number;
  idle: number;
}

/** One tick's sample, kept for the rate window. */
export interface ScalerSample {
  at: number;
  /** Jobs that arrived since the previous tick (estimated from depth and jobs done). */
  arrivals: number;
}

/** What the previous tick saw, to turn counters into rates. */
export interface Previous {
  jobs: number;
  jobsDone: Record<string, number>;
}

/** What the scaler machine keeps between ticks: the policy and what earlier ticks taught it. */
export interface ScalerContext {
  policy: ScalerPolicy;
  /** Workers the policy wants right now. */
  desired: number;
  /** Seconds per job: the workers' reported mean once known, else the policy default. */
  jobSeconds: number;
  /** Boot seconds: smoothed from instances seen going from pending to running. */
  bootSeconds: number;
  /** Jobs arriving per second over the rate window. */
  arrivalRate: number;
  samples: ScalerSample[];
  previous: Previous | null;
  /** The last tick that saw jobs arrive. */
  lastArrivalAt: number | null;
  /** Whether arrivals were sparse as of the last tick that saw one (see `Assessment.sparse`). */
  sparseAtLastArrival: boolean;
  lastLaunchAt: number | null;
  lastStopAt: number | null;
  /** Instances that were pending at the last tick, for learning the boot time. */
  pendingIds: string[];
  /** Every live instance at the last tick. */
  knownIds: string[];
  /** Live instances already asked to retire (not asked twice). */
  retiringIds: string[];
  last: FleetSummary;
}

/** Inputs of {@link desiredWorkers}. */
export interface DesiredInput {
  waiting: number;
  inFlight: number;
  running: number;
  /** Running plus pending (booting) instances. */
  capacity: number;
  jobSeconds: number;
  bootSeconds: number;
  /** Jobs arriving per second. */
  arrivalRate: number;
  policy: Pick<ScalerPolicy, 'minWorkers' | 'maxWorkers' | 'latencySlack' | 'targetUtilization'>;
}

/** Workers that steady arrivals keep busy at the target utilisation. */
export function rateWorkers(arrivalRate: number, jobSeconds: number, targetUtilization: number): number {
  return Math.ceil((arrivalRate * jobSeconds) / targetUtilization - 1e-9);
}

/**
 * The desired worker count: the larger of what the arrival rate keeps busy and what the
 * backlog needs, clamped to [minWorkers, maxWorkers].
 *
 * The backlog is `work = (waiting + inFlight) * jobSeconds` worker-seconds. The full fleet
 * would finish it `boot + work / maxWorkers` from now; the policy takes the smallest count
 * that finishes within `latencySlack` of that (never more workers than jobs). Each worker
 * left out saves a boot's worth of instance-seconds and costs little latency when boot time
 * dominates. While some workers run, a new one only helps with the work left once it has
 * booted, so growth is limited to what that remainder needs.
 */
export function desiredWorkers(input: DesiredInput): number {
  const { waiting, inFlight, running, capacity, jobSeconds, bootSeconds, arrivalRate, policy } = input;
  const clamp = (n: number) => Math.min(policy.maxWorkers, Math.max(policy.minWorkers, n));
  const forRate = rateWorkers(arrivalRate, jobSeconds, policy.targetUtilization);
  const jobs = waiting + inFlight;
  if (jobs === 0) return clamp(forRate);
  const work = jobs * jobSeconds;
  const budget = (1 + policy.latencySlack) * (bootSeconds + work / policy.maxWorkers) - bootSeconds;
  let want = Math.min(jobs, Math.ceil(work / budget - 1e-9));
  if (want > capacity && running > 0) {
    const leftAfterBoot = work - running * bootSeconds;
    if (leftAfterBoot <= 0) want = capacity;
  }
  return clamp(Math.max(want, forRate));
}

/** Everything a tick implies; the guards and actions all read this one pure assessment. */
export interface Assessment {
  summary: FleetSummary;
  capacity: number;
  /** Running instances whose worker reported idle in a fresh heartbeat, oldest launch first. */
  idleIds: string[];
  jobSeconds: number;
  bootSeconds: number;
  arrivalRate: number;
  desired: number;
  /** Workers a scale-in keeps. */
  keep: number;
  launch: number;
  /** How many of `launch` start retiring. */
  launchRetiring: number;
  stop: string[];
  /** Busy workers to retire: they exit once the queue is empty. */
  retire: string[];
  /**
   * Arrivals are sparse: the window's mean gap between jobs is idleSeconds or more, as of the
   * last tick that saw a job arrive (the silence after the last job is not a gap between jobs).
   */
  sparse: boolean;
  /** Live instances asked to retire at earlier ticks. */
  retiringIds: string[];
  samples: ScalerSample[];
  previous: Previous;
  lastArrivalAt: number | null;
  pendingIds: string[];
  knownIds: string[];
  /** Live instances the fleet reports retiring (launched that way). */
  reportedRetiringIds: string[];
}

const SMOOTHING = 0.3;

/** Pure: what a tick means under the context's policy. Exported for tests and the status view. */
export function assess(context: ScalerContext, tick: ScalerObservation): Assessment {
  const { policy } = context;
  const at = tick.at;
  const waiting = tick.depth.visible + tick.depth.delayed;
  const inFlight = tick.depth.inFlight;
  const live = tick.instances.filter((i) => i.state === 'pending' || i.state === 'running');
  const pending = live.filter((i) => i.state === 'pending');
  const running = live.filter((i) => i.state === 'running');

  const fresh = tick.workers.filter((w) => at - Date.parse(w.at) <= policy.staleHeartbeatSeconds * 1000);
  const beatOf = (inst: Instance): WorkerHeartbeat | undefined =>
    fresh.find((w) => w.instanceId === inst.id) ?? fresh.find((w) => w.workerId === (inst.workerId ?? inst.id));
  let busy = 0;
  const idle: Instance[] = [];
  const busyInstances: Instance[] = [];
  for (const inst of running) {
    const beat = beatOf(inst);
    if (beat === undefined) continue;
    if (beat.busy) {
      busy++;
      busyInstances.push(inst);
    } else idle.push(inst);
  }
  // Stop the newest first: the older ones have already shown they work.
  idle.sort((a, b) => Date.parse(b.launchedAt) - Date.parse(a.launchedAt));
  // In-flight messages are jobs in hand even when their worker's heartbeat lags behind.
  busy = Math.max(busy, Math.min(inFlight, running.length));

  let doneTotal = 0;
  let weighted = 0;
  let completions = 0;
  const jobsDone: Record<string, number> = {};
  for (const w of fresh) {
    jobsDone[w.workerId] = w.jobsDone;
    completions += Math.max(0, w.jobsDone - (context.previous?.jobsDone[w.workerId] ?? 0));
    if (w.meanJobSeconds !== undefined && w.jobsDone > 0) {
      doneTotal += w.jobsDone;
      weighted += w.jobsDone * w.meanJobSeconds;
    }
  }
  const jobSeconds = doneTotal > 0 ? weighted / doneTotal : context.jobSeconds;

  // Arrivals since the last tick: what is in the queue now, minus what was, plus what finished.
  const jobs = waiting + inFlight;
  const arrivals = Math.max(0, jobs - (context.previous?.jobs ?? 0) + (context.previous ? completions : 0));
  const windowStart = at - policy.rateWindowSeconds * 1000;
  const samples = [...context.samples.filter((s) => s.at > windowStart), { at, arrivals }];
  // A burst shows up as one huge sample; the smaller of the last interval's rate and the
  // window's rate reads it as a backlog (handled above) rather than as steady arrivals.
  const windowArrivals = samples.reduce((sum, s) => sum + s.arrivals, 0);
  const windowRate = windowArrivals / Math.max(1, policy.rateWindowSeconds);
  const lastInterval = context.samples.length > 0 ? (at - context.samples[context.samples.length - 1].at) / 1000 : 0;
  const arrivalRate = lastInterval > 0 ? Math.min(windowRate, arrivals / lastInterval) : 0;
  const lastArrivalAt = arrivals > 0 ? at : context.lastArrivalAt;

  let bootSeconds = context.bootSeconds;
  // An instance seen running that was pending at the last tick, or launched since it, booted
  // within (at - launchedAt): an upper bound, at most one interval too long. Learning from it
  // lets a controller configured for EC2 adapt to fast local workers and the other way round.
  if (context.previous !== null) {
    for (const inst of running) {
      if (!context.pendingIds.includes(inst.id) && context.knownIds.includes(inst.id)) continue;
      const sample = (at - Date.parse(inst.launchedAt)) / 1000;
      if (sample > 0 && sample < 900) bootSeconds = bootSeconds + SMOOTHING * (sample - bootSeconds);
    }
  }

  const capacity = live.length;
  // Sparse: jobs arrive idleSeconds or more apart on average over the window (or not at all).
  // Keeping a worker warm for them costs a whole gap per job and it would be gone by the next
  // one anyway; booting one per batch costs less, as the classic policy does.
  const sparseNow = windowArrivals === 0 || Math.max(1, policy.rateWindowSeconds) / windowArrivals >= policy.idleSeconds;
  // Judged when a job arrives and kept until the next one: as the window empties after the
  // last job, its mean gap grows, and the warm worker would go before idleSeconds had passed.
  const sparse = arrivals > 0 || context.lastArrivalAt === null ? sparseNow : context.sparseAtLastArrival;
  const desired = desiredWorkers({ waiting, inFlight, running: running.length, capacity, jobSeconds, bootSeconds, arrivalRate, policy });
  // Scale out only for jobs that wait (or to reach the floor), never merely because desired moved.
  const launch = waiting > 0 || capacity < policy.minWorkers ? Math.max(0, desired - capacity) : 0;

  // Scale in keeps the workers in hand, what the arrival rate needs, and one warm worker until
  // no job has arrived for idleSeconds (what `--idle-seconds` promises, however short the boot).
  const linger = policy.idleSeconds * 1000;
  const reserve = !sparse && lastArrivalAt !== null && at - lastArrivalAt < linger ? 1 : 0;
  // What steady arrivals need; under sparse arrivals a fraction of one worker is not kept.
  const forRateExact = (arrivalRate * jobSeconds) / policy.targetUtilization;
  const forRate = sparse && forRateExact < 1 ? 0 : rateWorkers(arrivalRate, jobSeconds, policy.targetUtilization);
  // What the fleet needs once the work in hand and the queue are done.
  const after = Math.max(policy.minWorkers, forRate, reserve);
  const keep = Math.max(after, busy);
  const cooling = context.lastStopAt !== null && at - context.lastStopAt < policy.cooldownSeconds * 1000;
  let stop: string[] = [];
  if (launch === 0 && waiting === 0 && !cooling && capacity > keep) {
    stop = idle.slice(0, capacity - keep).map((i) => i.id);
  }
  // Busy workers beyond what is needed afterwards retire: each exits when it finds the queue
  // empty. The newest go first, as with stops; one already asked is not asked again.
  // Instances the fleet reports retiring (launched that way) count too.
  const liveIds = live.map((i) => i.id);
  const reportedRetiringIds = live.filter((i) => i.retiring).map((i) => i.id);
  const retiringIds = stillRetiring(context.retiringIds, reportedRetiringIds, liveIds);
  let retire: string[] = [];
  const surplus = capacity - stop.length - retiringIds.length - after;
  if (launch === 0 && surplus > 0) {
    retire = busyInstances
      .filter((i) => !retiringIds.includes(i.id))
      .sort((a, b) => Date.parse(b.launchedAt) - Date.parse(a.launchedAt))
      .slice(0, surplus)
      .map((i) => i.id);
  }
  // Workers launched for a backlog the fleet will not need afterwards are launched retiring:
  // with a short boot they would otherwise finish and idle until a tick stops them.
  const launchRetiring = launch > 0 ? Math.min(launch, Math.max(0, capacity + launch - retiringIds.length - after)) : 0;

  return {
    summary: { waiting, inFlight, pending: pending.length, running: running.length, busy, idle: idle.length },
    capacity,
    idleIds: idle.map((i) => i.id),
    jobSeconds,
    bootSeconds,
    arrivalRate,
    desired,
    keep,
    launch,
    launchRetiring,
    stop,
    retire,
    sparse,
    retiringIds,
    samples,
    previous: { jobs, jobsDone },
    lastArrivalAt,
    pendingIds: pending.map((i) => i.id),
    knownIds: liveIds,
    reportedRetiringIds,
  };
}

/**
 * The instances still retiring: those asked before (`asked`, oldest first) and those the fleet
 * reports retiring, that are still live.
 */
export function stillRetiring(asked: readonly string[], reported: readonly string[], liveIds: readonly string[]): string[] {
  const live = new Set(liveIds);
  return [...new Set([...asked, ...reported])].filter((id) => live.has(id));
}

