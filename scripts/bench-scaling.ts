/**
 * Scaling simulator: replays arrival traces against the scaler machine itself (through
 * `stepScaler`, the same pure step the controller runs) and against the classic policy, and
 * reports cost and latency per trace.
 *
 *   npm run bench:scaling -- [--json] [--boot-seconds 30] [--service-seconds 0.35]
 *                            [--interval 5] [--idle-seconds 30] [--max-workers 15] [--seed 1]
 *                            [--assume-boot 30] [--phases 5] [--trace burst-100,trickle]
 *
 * Model (discrete events, time in seconds):
 * - A launched instance boots for `--boot-seconds` (30 s is a typical EC2 boot to a running
 *   worker; 1 s a local child process), then its worker long-polls: it takes the next queued
 *   job the moment one exists, FIFO.
 * - A job takes `--service-seconds` (+-20 % uniform jitter). The default 0.35 s is the brief's
 *   estimate of the engine on wasm for one 64x64 face crop; replace it with a number from
 *   `npm run bench:engine` when you have one.
 * - The controller ticks every `--interval` seconds. Each trace is run with the first tick at
 *   `--phases` offsets spread over one interval, and the results pooled (latency percentiles
 *   over all runs' jobs, means of the rest, the largest peak). It sees queue depth (waiting, in flight), the
 *   instances and their states, and one heartbeat per running worker (busy, jobs done, mean).
 * - Stopping a busy worker kills its job, which is visible again after a 30 s visibility timeout.
 * - A retired worker (facefleet only; classic has no such action) finishes its job and takes
 *   what waits, and its instance stops the moment it finds the queue empty, as the local fleet's
 *   workers do. Pass `--no-retire` to model a fleet that ignores retire (as the EC2 fleet does).
 * - Instance-seconds count from launch to stop, boot included: that is what a cloud bills.
 *   `inst-s/1k` is the same per 1,000 jobs, to compare engines (`--service-seconds`) across traces.
 */
import { performance } from 'node:perf_hooks';
import type { Instance } from '../src/controller/fleet.js';
import { initialScaler, scalerState, stepScaler, type ScalerObservation, type ScalerPolicy } from '../src/machines/scaler.js';
import { seededRandom } from '../src/random.js';

interface Options {
  json: boolean;
  bootSeconds: number;
  serviceSeconds: number;
  interval: number;
  idleSeconds: number;
  maxWorkers: number;
  seed: number;
  /** Tick phases each trace is run at; results are pooled. */
  phases: number;
  /** What the scaler assumes before it has seen an instance boot; default: the true boot time. */
  assumeBootSeconds?: number;
  traces?: string[];
  /** Whether the fleet honours the scaler's `retire` action. */
  retire: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { json: false, bootSeconds: 30, serviceSeconds: 0.35, interval: 5, idleSeconds: 30, maxWorkers: 15, seed: 1, phases: 5, retire: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a} needs a non-negative number`);
      return n;
    };
    if (a === '--json') o.json = true;
    else if (a === '--boot-seconds') o.bootSeconds = value();
    else if (a === '--service-seconds') o.serviceSeconds = value();
    else if (a === '--interval') o.interval = value();
    else if (a === '--idle-seconds') o.idleSeconds = value();
    else if (a === '--max-workers') o.maxWorkers = value();
    else if (a === '--seed') o.seed = value();
    else if (a === '--assume-boot') o.assumeBootSeconds = value();
    else if (a === '--phases') o.phases = Math.max(1, Math.round(value()));
    else if (a === '--trace') o.traces = String(argv[++i]).split(',');
    else if (a === '--no-retire') o.retire = false;
    else throw new Error(`unknown flag ${a}`);
  }
  return o;
}

/** Arrivals of a non-homogeneous Poisson process with rate `rate(t)` <= `peak`, by thinning. */
function poisson(rate: (t: number) => number, peak: number, end: number, random: () => number): number[] {
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - random()) / peak;
    if (t >= end) return out;
    if (random() * peak < rate(t)) out.push(t);
  }
}

interface Trace {
  name: string;
  arrivals: number[];
}

function traces(seed: number): Trace[] {
  const random = seededRandom(seed);
  const day = 86_400;
  // Night trough, a morning rise, a midday peak of 20 jobs/s and a smaller evening one.
  const dayRate = (t: number) => {
    const h = (t / 3600) % 24;
    const bump = (mu: number, sigma: number) => Math.exp(-((h - mu) ** 2) / (2 * sigma ** 2));
    return 0.02 + 20 * bump(13, 3) + 8 * bump(20, 1.5);
  };
  return [
    { name: 'burst-100', arrivals: new Array<number>(100).fill(0) },
    { name: 'burst-1000', arrivals: new Array<number>(1000).fill(0) },
    // Load rising linearly to 20 jobs/s over 10 minutes, then stopping.
    { name: 'ramp', arrivals: poisson((t) => (20 * t) / 600, 20, 600, random) },
    { name: 'day', arrivals: poisson(dayRate, 28.1, day, random) },
    // One job every 30 s for an hour.
    { name: 'trickle', arrivals: Array.from({ length: 120 }, (_, i) => i * 30) },
  ];
}

/** What a policy decides at a tick. */
interface Decision {
  launch: number;
  /** How many of the launched start retiring. */
  launchRetiring: number;
  stop: string[];
  retire: string[];
}
interface Policy {
  name: 'facefleet' | 'classic';
  tick(observation: ScalerObservation): Decision;
}

function facefleetPolicy(policy: Partial<ScalerPolicy>): Policy {
  let snapshot = initialScaler(policy);
  return {
    name: 'facefleet',
    tick(observation) {
      const step = stepScaler(snapshot, observation);
      snapshot = step.snapshot;
      const decision: Decision = { launch: 0, launchRetiring: 0, stop: [], retire: [] };
      for (const action of step.actions) {
        if (action.type === 'launch') {
          decision.launch += action.params.count;
          decision.launchRetiring += action.params.retire ?? 0;
        }
        else if (action.type === 'stop') decision.stop.push(...action.params.ids);
        else decision.retire.push(...action.params.ids);
      }
      void scalerState(snapshot);
      return decision;
    },
  };
}

/** The classic controller: start min(waiting, max) when requests wait, stop all when both queues are empty. */
function classicPolicy(maxWorkers: number): Policy {
  return {
    name: 'classic',
    tick({ depth, instances }) {
      const live = instances.filter((i) => i.state === 'pending' || i.state === 'running');
      if (depth.visible > 0) return { launch: Math.max(0, Math.min(depth.visible, maxWorkers) - live.length), launchRetiring: 0, stop: [], retire: [] };
      if (depth.inFlight === 0) return { launch: 0, launchRetiring: 0, stop: live.map((i) => i.id), retire: [] };
      return { launch: 0, launchRetiring: 0, stop: [], retire: [] };
    },
  };
}

interface SimInstance {
  id: string;
  launchedAt: number;
  state: 'pending' | 'running' | 'stopped';
  stoppedAt?: number;
  retiring?: boolean;
  job?: number;
  jobsDone: number;
  serviceTotal: number;
}

/** Min-heap of events ordered by time, then kind (finish/ready before arrival before tick), then insertion. */
class Events {
  private heap: [number, number, number, () => void][] = [];
  private seq = 0;
  get size(): number {
    return this.heap.length;
  }
  peek(): number {
    return this.heap[0][0];
  }
  peekOrder(): number {
    return this.heap[0][1];
  }
  push(at: number, order: number, run: () => void): void {
    const h = this.heap;
    h.push([at, order, this.seq++, run]);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): [number, () => void] {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return [top[0], top[3]];
  }
  private less(a: [number, number, number, unknown], b: [number, number, number, unknown]): boolean {
    return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
  }
}

export interface Row {
  trace: string;
  policy: 'facefleet' | 'classic';
  jobs: number;
  instanceSeconds: number;
  p50Seconds: number;
  p95Seconds: number;
  drainSeconds: number;
  scaleActions: number;
  peakWorkers: number;
}

const EPOCH = Date.parse('2026-01-01T00:00:00Z');
const VISIBILITY_SECONDS = 30;

/** One simulated run: the raw numbers before they are pooled over tick phases. */
interface Run {
  latencies: Float64Array;
  instanceSeconds: number;
  drainSeconds: number;
  scaleActions: number;
  peakWorkers: number;
}

function simulate(trace: Trace, policy: Policy, o: Options, firstTick: number): Run {
  const random = seededRandom(o.seed + 7);
  const events = new Events();
  const jobs = trace.arrivals.map((arrival) => ({ arrival, done: -1 }));
  const queue: number[] = [];
  let queueHead = 0;
  let instances: SimInstance[] = [];
  let instanceSeconds = 0;
  let nextId = 0;
  let completed = 0;
  let scaleActions = 0;
  let peak = 0;
  // Traces are generated in time order.
  const traceEnd = trace.arrivals.length ? trace.arrivals[trace.arrivals.length - 1] : 0;
  const giveUp = traceEnd + 4 * 3600;
  let now = 0;

  const waiting = () => queue.length - queueHead;
  const take = (inst: SimInstance) => {
    if (inst.state !== 'running' || inst.job !== undefined) return;
    if (waiting() === 0) {
      // A retired worker exits at its first empty receive; its instance stops with it.
      if (inst.retiring) {
        inst.state = 'stopped';
        inst.stoppedAt = now;
      }
      return;
    }
    const job = queue[queueHead++];
    if (queueHead > 4096 && queueHead * 2 > queue.length) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
    inst.job = job;
    const service = o.serviceSeconds * (0.8 + 0.4 * random());
    events.push(now + service, 0, () => {
      if (inst.job !== job) return; // killed meanwhile
      inst.job = undefined;
      inst.jobsDone++;
      inst.serviceTotal += service;
      jobs[job].done = now;
      completed++;
      take(inst);
    });
  };
  const enqueue = (job: number) => {
    queue.push(job);
    const free = instances.find((i) => i.state === 'running' && i.job === undefined);
    if (free) take(free);
  };


  const tick = () => {
    const live = instances.filter((i) => i.state !== 'stopped');
    const at = EPOCH + now * 1000;
    const iso = new Date(at).toISOString();
    const observation: ScalerObservation = {
      at,
      depth: { visible: waiting(), inFlight: live.filter((i) => i.job !== undefined).length, delayed: 0 },
      instances: live.map((i): Instance => ({
        id: i.id,
        state: i.state as Instance['state'],
        launchedAt: new Date(EPOCH + i.launchedAt * 1000).toISOString(),
        workerId: i.id,
        ...(i.retiring ? { retiring: true } : {}),
      })),
      workers: live
        .filter((i) => i.state === 'running')
        .map((i) => ({
          workerId: i.id,
          instanceId: i.id,
          busy: i.job !== undefined,
          at: iso,
          jobsDone: i.jobsDone,
          ...(i.jobsDone > 0 ? { meanJobSeconds: i.serviceTotal / i.jobsDone } : {}),
        })),
    };
    const decision = policy.tick(observation);
    if (decision.launch > 0) {
      scaleActions++;
      for (let k = 0; k < decision.launch; k++) {
        const inst: SimInstance = { id: `i-${nextId++}`, launchedAt: now, state: 'pending', jobsDone: 0, serviceTotal: 0 };
        if (o.retire && k < decision.launchRetiring) inst.retiring = true;
        instances.push(inst);
        events.push(now + o.bootSeconds, 0, () => {
          if (inst.state !== 'pending') return;
          inst.state = 'running';
          take(inst);
        });
      }
    }
    if (o.retire && decision.retire.length > 0) {
      scaleActions++;
      for (const id of decision.retire) {
        const inst = instances.find((i) => i.id === id && i.state !== 'stopped');
        if (!inst) continue;
        inst.retiring = true;
        take(inst);
      }
    }
    if (decision.stop.length > 0) {
      scaleActions++;
      for (const id of decision.stop) {
        const inst = instances.find((i) => i.id === id && i.state !== 'stopped');
        if (!inst) continue;
        if (inst.job !== undefined) {
          const killed = inst.job;
          events.push(now + VISIBILITY_SECONDS, 1, () => enqueue(killed));
        }
        inst.job = undefined;
        inst.state = 'stopped';
        inst.stoppedAt = now;
      }
    }
    // Keep only live instances in the list (the day trace launches thousands); bank the rest.
    for (const i of instances) if (i.state === 'stopped') instanceSeconds += i.stoppedAt! - i.launchedAt;
    instances = instances.filter((i) => i.state !== 'stopped');
    peak = Math.max(peak, instances.length);
    const finished = completed === jobs.length && now >= traceEnd && instances.length === 0;
    if (!finished && now < giveUp) events.push(now + o.interval, 2, tick);
  };
  events.push(firstTick, 2, tick);

  // Arrivals are merged in from the time-ordered trace rather than all pushed on the heap.
  let nextArrival = 0;
  while (events.size > 0 || nextArrival < jobs.length) {
    if (nextArrival < jobs.length && (events.size === 0 || events.peek() > jobs[nextArrival].arrival || (events.peek() === jobs[nextArrival].arrival && events.peekOrder() > 1))) {
      now = jobs[nextArrival].arrival;
      enqueue(nextArrival++);
      continue;
    }
    const [at, run] = events.pop();
    now = at;
    run();
  }

  const latencies = Float64Array.from(jobs.filter((j) => j.done >= 0).map((j) => j.done - j.arrival));
  const lastDone = jobs.reduce((m, j) => Math.max(m, j.done), 0);
  const firstArrival = trace.arrivals.length ? trace.arrivals[0] : 0;
  instanceSeconds += instances.reduce((sum, i) => sum + ((i.stoppedAt ?? now) - i.launchedAt), 0);
  return { latencies, instanceSeconds, drainSeconds: lastDone - firstArrival, scaleActions, peakWorkers: peak };
}

/**
 * Run a trace at `--phases` evenly spread offsets of the first tick and pool the results:
 * where a burst lands relative to the controller's tick is luck, and a single phase can hand
 * either policy a whole tick of instance-seconds.
 */
function measure(trace: Trace, makePolicy: () => Policy, o: Options): Row {
  const runs: Run[] = [];
  let name: Policy['name'] = 'classic';
  for (let k = 0; k < o.phases; k++) {
    const policy = makePolicy();
    name = policy.name;
    runs.push(simulate(trace, policy, o, ((k + 0.5) / o.phases) * o.interval));
  }
  const all = new Float64Array(runs.reduce((n, r) => n + r.latencies.length, 0));
  let offset = 0;
  for (const r of runs) {
    all.set(r.latencies, offset);
    offset += r.latencies.length;
  }
  all.sort();
  const pct = (p: number) => (all.length ? all[Math.max(0, Math.ceil(p * all.length) - 1)] : 0);
  const mean = (f: (r: Run) => number) => runs.reduce((sum, r) => sum + f(r), 0) / runs.length;
  return {
    trace: trace.name,
    policy: name,
    jobs: trace.arrivals.length,
    instanceSeconds: round(mean((r) => r.instanceSeconds)),
    p50Seconds: round(pct(0.5)),
    p95Seconds: round(pct(0.95)),
    drainSeconds: round(mean((r) => r.drainSeconds)),
    scaleActions: round(mean((r) => r.scaleActions)),
    peakWorkers: Math.max(...runs.map((r) => r.peakWorkers)),
  };
}

/** Instance-seconds per 1,000 jobs (one image each): the fleet's cost per image. */
function perThousand(r: { jobs: number; instanceSeconds: number }): number {
  return round((r.instanceSeconds / r.jobs) * 1000);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const rows: Row[] = [];
  for (const trace of traces(o.seed)) {
    if (o.traces && !o.traces.includes(trace.name)) continue;
    rows.push(measure(trace, () => classicPolicy(o.maxWorkers), o));
    rows.push(
      measure(
        trace,
        () => facefleetPolicy({ maxWorkers: o.maxWorkers, idleSeconds: o.idleSeconds, defaultBootSeconds: o.assumeBootSeconds ?? o.bootSeconds }),
        o,
      ),
    );
  }
  const out = process.stdout;
  out.write(
    `boot ${o.bootSeconds}s, service ${o.serviceSeconds}s/job, tick ${o.interval}s, idle ${o.idleSeconds}s, max ${o.maxWorkers}, seed ${o.seed}, ${o.phases} tick phases\n`,
  );
  const header = ['trace', 'policy', 'jobs', 'inst-s', 'inst-s/1k', 'p50 s', 'p95 s', 'drain s', 'actions', 'peak', 'goal'];
  const lines = rows.map((r) => {
    let goal = '';
    if (r.policy === 'facefleet') {
      const c = rows.find((x) => x.trace === r.trace && x.policy === 'classic')!;
      const cheaper = r.instanceSeconds < c.instanceSeconds;
      const fastEnough = r.p95Seconds <= c.p95Seconds * 1.1;
      goal = cheaper && fastEnough ? 'met' : `MISSED${cheaper ? '' : ' cost'}${fastEnough ? '' : ' p95'}`;
    }
    return [r.trace, r.policy, r.jobs, r.instanceSeconds, perThousand(r), r.p50Seconds, r.p95Seconds, r.drainSeconds, r.scaleActions, r.peakWorkers, goal].map(String);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  for (const l of [header, ...lines]) out.write(l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ') + '\n');
  out.write(`simulated in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (o.json) {
    const slim = rows.map(({ trace, policy, jobs, instanceSeconds, p50Seconds, p95Seconds, drainSeconds, scaleActions, peakWorkers }) => ({
      trace,
      policy,
      jobs,
      instanceSeconds,
      instanceSecondsPerThousand: perThousand({ jobs, instanceSeconds }),
      p50Seconds,
      p95Seconds,
      drainSeconds,
      scaleActions,
      peakWorkers,
    }));
    out.write(JSON.stringify({ serviceSeconds: o.serviceSeconds, bootSeconds: o.bootSeconds, rows: slim }) + '\n');
  }
}

main();
