import type { AuthGuardOptions } from './auth-guard.js';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { JobRunner } from '../jobs/runner.js';
import type { Logger } from '../log.js';
import type { BlobStore, Gallery, JobQueue, JobStore, KeyStore, WebhookStore, WorkerRegistry } from '../store/ports.js';
import type { PollOptions } from './wait.js';
import type { WebhookPublisher } from '../webhooks/publish.js';

/** The part of a circuit breaker the web tier uses (`controller/breaker.ts` provides one). */
export interface WebBreaker {
  /** e.g. `closed`, `open`, `half-open`; shown by `/readyz`. */
  state(): string;
  /** Run `fn` through the breaker; rejects with CircuitOpenError (`circuit-open`) while open. */
  call<T>(fn: () => Promise<T>): Promise<T>;
}

/** What the web tier needs; the entry point wires it. The web tier never closes these. */
export interface WebDeps {
  config: Config;
  log: Logger;
  blobs: BlobStore;
  jobs: JobStore;
  queue: JobQueue;
  gallery: Gallery;
  keys: KeyStore;
  /** Webhook endpoints per collection. */
  webhooks: WebhookStore;
  /** Finds a finished job's webhook deliveries (`GET /v1/jobs/:id/webhooks`); absent, that route answers 404. */
  publisher?: Pick<WebhookPublisher, 'deliveriesOf'>;
  runner: JobRunner;
  /** Guards every store/queue call on the request path. Default: a breaker of its own (5 failures, 10 s cool-down). */
  breaker?: WebBreaker;
  /** The worker registry (the stores' `registry`): `GET /v1/fleet` counts busy and idle workers from it. */
  registry?: Pick<WorkerRegistry, 'list'>;
  /** Registries merged into `GET /metrics` (e.g. the controller's gauges). */
  extraMetrics?: Registry[];
  /** Knobs that are not user configuration (tests make them small). */
  tuning?: Partial<Omit<WebTuning, 'poll'>> & { poll?: Partial<PollOptions> };
  /**
   * Set in each process of `facefleet web --web-processes N` (see `cluster.ts`): only process 0
   * sweeps, the rate limit is shared out (`rate / N` each), and `/metrics` sums every process.
   */
  cluster?: { index: number; processes: number };
  /**
   * Set when every worker reports the jobs it finishes through `WebApp.jobSettled` (the local
   * fleet of `facefleet up`): long-polls then look at the store on a slower clock
   * (`HINTED_POLL`), since the reports wake them.
   */
  settleHints?: boolean;
}

/** Defaults in `DEFAULT_TUNING` (`app.ts`). */
export interface WebTuning {
  /** Long-poll pacing of job store reads. */
  poll: PollOptions;
  /** Longest time a client may take to send its request headers, ms. Default 10 000. */
  headersTimeoutMs: number;
  /** Longest time a client may take to send its whole request, ms. Default 120 000. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms. Default 65 000 (above an ALB's 60 s idle timeout). */
  keepAliveTimeoutMs: number;
  /** How often node checks the two timeouts above, ms. Default 1 000. */
  connectionsCheckingIntervalMs: number;
  /** Deadline of one store call on the request path, ms; past it the answer is 503. Default 10 000. */
  storeTimeoutMs: number;
  /** Deadline of each `/readyz` ping, ms. Default 1 000. */
  readyTimeoutMs: number;
  /** Attempt budget of new jobs. Default `config.queue.maxReceiveCount`. */
  maxAttempts: number;
  /** How long `close()` lets in-flight requests finish before cutting connections, ms. Default 5 000. */
  closeGraceMs: number;
  /**
   * How long a verified API key's scrypt result is trusted, ms. Default 600 000. Revocation
   * does not wait for it: a cached key's record is re-read every second (see auth.ts).
   */
  keyCacheTtlMs: number;
  /** Upload bytes in flight per process and per key. Defaults in `DEFAULT_UPLOAD_BUDGET`. */
  uploadBudget?: { processBytes?: number; keyBytes?: number };
  /** How old an input blob without a job must be before the sweeper deletes it, s. Default 900 (`ORPHAN_GRACE_SECONDS`). */
  orphanGraceSeconds?: number;
  /** Failed-authentication limits and the scrypt concurrency bound. Defaults in `DEFAULT_AUTH_GUARD`. */
  authLimits?: AuthGuardOptions;
  /** Default wait of an enrollment upload, seconds. Default 30. */
  enrollWaitSeconds: number;
}
