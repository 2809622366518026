import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobRecord } from '../jobs/types.js';
import { JOB_STATES } from '../jobs/types.js';
import type { Logger } from '../log.js';
import type { JobQueue, JobStore } from '../store/ports.js';

/** The web tier's Prometheus metrics. Gauges over the stores are read at scrape time. */
export interface WebMetrics {
  registry: Registry;
  /** One finished HTTP request, labelled by route template (never the raw path). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  jobSubmitted(kind: string): void;
  /** A job this process submitted and then saw reach a terminal state. */
  jobFinished(record: JobRecord): void;
  /** Text for `GET /metrics`: this registry merged with the extra ones (e.g. the controller's). */
  render(extra: Registry[]): Promise<{ contentType: string; body: string }>;
}

/** Scrape-time reads give up after this long, so a slow store never stalls Prometheus. */
const COLLECT_TIMEOUT_MS = 1000;

function withTimeout<T>(p: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), COLLECT_TIMEOUT_MS);
    p.then(resolve, reject).finally(() => clearTimeout(t));
  });
}

/** Build the web tier's registry; the store gauges read `jobs` and `queue` on each scrape (1 s deadline). */
export function createWebMetrics(deps: { jobs: JobStore; queue: JobQueue; log: Logger; breaker?: { state(): string } }): WebMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'facefleet_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'facefleet_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (long-polls included), by route template, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const submitted = new Counter({
    name: 'facefleet_jobs_submitted_total',
    help: 'Jobs accepted by this web process, by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'facefleet_job_outcomes_total',
    help: 'Terminal outcomes (done, dead-lettered) of jobs this web process submitted and waited for.',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'facefleet_job_latency_seconds',
    help: 'From job creation to its terminal state, for jobs this web process submitted and waited for.',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  new Gauge({
    name: 'facefleet_queue_depth',
    // Read from the stores, the same in every web process: a cluster reports one, not the sum.
    aggregator: 'first',
    help: 'Messages in the job queue at scrape time: visible, in flight, delayed, and dead-lettered.',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      try {
        const [depth, dead] = await withTimeout(Promise.all([deps.queue.depth(), deps.queue.deadLetterDepth()]));
        this.set({ kind: 'visible' }, depth.visible);
        this.set({ kind: 'in-flight' }, depth.inFlight);
        this.set({ kind: 'delayed' }, depth.delayed);
        this.set({ kind: 'dead-letter' }, dead);
      } catch (err) {
        // Leave the gauge empty rather than report stale numbers as current.
        this.reset();
        deps.log.warn({ err }, 'queue depth not collected');
      }
    },
  });
  new Gauge({
    name: 'facefleet_jobs',
    // Read from the stores, the same in every web process: a cluster reports one, not the sum.
    aggregator: 'first',
    help: 'Jobs in the job store at scrape time, by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await withTimeout(deps.jobs.countByState());
        for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
      } catch (err) {
        this.reset();
        deps.log.warn({ err }, 'job counts not collected');
      }
    },
  });

  if (deps.breaker) {
    const breaker = deps.breaker;
    // A name of its own: in `up` the controller's registry, merged into ours, already has
    // `facefleet_breaker_state` for its own breaker.
    new Gauge({
      name: 'facefleet_web_breaker_state',
      help: "The web tier's store circuit breaker: 1 for the current state (closed, open, half-open).",
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const current = breaker.state();
        for (const state of ['closed', 'open', 'half-open']) this.set({ state }, state === current ? 1 : 0);
      },
    });
  }

  return {
    registry,
    observeRequest(route, method, status, seconds) {
      const labels = { route, method, status: String(status) };
      requests.inc(labels);
      durations.observe(labels, seconds);
    },
    jobSubmitted(kind) {
      submitted.inc({ kind });
    },
    jobFinished(record) {
      const labels = { kind: record.kind, outcome: record.state };
      outcomes.inc(labels);
      const seconds = (Date.parse(record.updatedAt) - Date.parse(record.createdAt)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) latency.observe(labels, seconds);
    },
    async render(extra) {
      if (extra.length === 0) return { contentType: registry.contentType, body: await registry.metrics() };
      try {
        const merged = Registry.merge([registry, ...extra]);
        return { contentType: merged.contentType, body: await merged.metrics() };
      } catch (err) {
        // merge refuses duplicate names; a scrape with a duplicate beats no scrape at all.
        deps.log.warn({ err }, 'metric registries could not be merged; concatenating them');
        const bodies = await Promise.all([registry, ...extra].map((r) => r.metrics()));
        return { contentType: registry.contentType, body: bodies.join('\n') };
      }
    },
  };
}
