import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Registry } from 'prom-client';
import { createBreaker } from '../controller/breaker.js';
import { TimeoutError } from '../errors.js';
import { createAuth } from './auth.js';
import { clusterMetricsRenderer } from './cluster.js';
import { ctx, requestContext } from './context.js';
import { HttpNotFoundError, WebStartError } from './errors.js';
import { hasActiveKey } from './keys.js';
import { createWebMetrics } from './metrics.js';
import { problemHandler } from './problem.js';
import { queryGuard } from './query-guard.js';
import { createRateLimiter } from './rate-limit.js';
import type { RouteContext } from './route-context.js';
import { registerClassicRoutes } from './routes/classic.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerIdentityRoutes } from './routes/identities.js';
import { registerCollectionIdentityRoutes } from './routes/collection-identities.js';
import { registerCollectionRoutes } from './routes/collections.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerOperatorRoutes } from './routes/operators.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerUnknownRoutes } from './routes/unknowns.js';
import { registerUnknownSearchRoute } from './routes/unknown-search.js';
import type { Guard } from './submit.js';
import type { WebBreaker, WebDeps, WebTuning } from './types.js';
import { createMultipart, multipartFile } from './upload.js';
import { createUploadBudget } from './upload-budget.js';
import { DEFAULT_POLL, HINTED_POLL, JobWatch } from './wait.js';

export type { WebDeps, WebTuning, WebBreaker } from './types.js';

/** A started web tier. */
export interface RunningWeb {
  /** e.g. `http://127.0.0.1:8000`. */
  url: string;
  /** Whether API keys are required on this address. */
  auth: boolean;
  /** End long-polls, let in-flight requests finish (bounded), close the server. Idempotent. */
  close(): Promise<void>;
}

/** What `createWebApp` returns: the express app (for tests and embedding), `start`, and its metrics registry. */
export interface WebApp {
  app: express.Express;
  /** Listen. Refuses (WebStartError) when auth is on and no API key exists. */
  start(host: string, port: number): Promise<RunningWeb>;
  registry: Registry;
  /**
   * A worker reports job `id` finished: its long-polls answer now instead of at their next
   * look. Only a hint (a missed one costs at most one poll gap); see `WebDeps.settleHints`.
   */
  jobSettled(id: string): void;
}

/** Tuning defaults; `maxAttempts` defaults to `config.queue.maxReceiveCount`. */
export const DEFAULT_TUNING: Omit<WebTuning, 'maxAttempts'> = {
  poll: DEFAULT_POLL,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  // Longer than a load balancer's idle timeout (ALB: 60 s), or it reuses a socket we just closed and answers 502.
  keepAliveTimeoutMs: 65_000,
  connectionsCheckingIntervalMs: 1_000,
  storeTimeoutMs: 10_000,
  readyTimeoutMs: 1_000,
  closeGraceMs: 5_000,
  keyCacheTtlMs: 600_000,
  enrollWaitSeconds: 30,
};

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** The abort reason of a request's signal once its response is closed. */
const REQUEST_ENDED = Object.freeze({ name: 'RequestEnded', message: 'the response was sent or the client went away' });

/** True for addresses only this machine can reach: there auth may default to off. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

function withDeadline<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`store call took longer than ${ms} ms`)), ms);
    fn().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/**
 * The web tier as an express app. Routes: the classic `POST /`, `/v1/jobs`, `/v1/identities`,
 * `/v1/dead-letters`, and `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (see `openapi.ts`).
 * Auth is `config.web.auth`, or when undefined: off on a loopback address, on otherwise.
 */
export function createWebApp(deps: WebDeps): WebApp {
  const { config, log } = deps;
  const tuning: WebTuning = {
    ...DEFAULT_TUNING,
    maxAttempts: config.queue.maxReceiveCount,
    ...deps.tuning,
    poll: { ...(deps.settleHints ? HINTED_POLL : DEFAULT_POLL), ...deps.tuning?.poll },
  };
  const breaker: WebBreaker = deps.breaker ?? createBreaker({ name: 'web-stores', failureThreshold: 5, cooldownMs: 10_000, log });
  const guard: Guard = (fn) => breaker.call(() => withDeadline(fn, tuning.storeTimeoutMs));
  const shutdown = new AbortController();
  // One listener per long-poll in flight; hundreds are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  let authEnabled = config.web.auth ?? !isLoopback(config.web.host);
  const limits = { maxUploadBytes: config.web.maxUploadBytes, maxInputPixels: config.recognition.maxInputPixels };
  const upload = createMultipart(limits);
  const uploadBudget = createUploadBudget({ ...tuning.uploadBudget, maxUploadBytes: limits.maxUploadBytes });
  const webMetrics = createWebMetrics({ jobs: deps.jobs, queue: deps.queue, log, breaker });
  const cluster = deps.cluster && deps.cluster.processes > 1 ? deps.cluster : undefined;
  // In a cluster, /metrics is the sum over every web process, gathered by the primary.
  const metrics = cluster ? { ...webMetrics, render: clusterMetricsRenderer([webMetrics.registry, ...(deps.extraMetrics ?? [])]) } : webMetrics;

  const versions = deps.jobs.versions?.bind(deps.jobs);
  const jobWatch = versions ? new JobWatch((ids) => guard(() => versions(ids)), tuning.poll) : undefined;
  const rc: RouteContext = {
    deps,
    tuning,
    jobWatch,
    guard,
    breaker,
    auth: createAuth({ keys: deps.keys, enabled: () => authEnabled, cacheTtlMs: tuning.keyCacheTtlMs, guard, limits: tuning.authLimits }),
    // Each of N web processes allows its share: about the configured rate per client in all.
    rateLimit: createRateLimiter({ ratePerSecond: config.web.rateLimitPerSecond / (cluster?.processes ?? 1) }),
    multipart: (field) => {
      const parse = multipartFile(upload, field, limits.maxUploadBytes);
      return (req, res, next) => uploadBudget.middleware(req, res, (err?: unknown) => (err ? next(err) : parse(req, res, next)));
    },
    metrics,
    limits,
    requestSignal(_req, res) {
      const gone = new AbortController();
      if (shutdown.signal.aborted) gone.abort();
      const onShutdown = () => gone.abort();
      shutdown.signal.addEventListener('abort', onShutdown, { once: true });
      // 'close' on the response fires when it is sent or the client hung up; either way stop waiting.
      res.once('close', () => {
        shutdown.signal.removeEventListener('abort', onShutdown);
        // A plain reason: abort() without one builds a DOMException, stack trace and all, per request.
        gone.abort(REQUEST_ENDED);
      });
      return gone.signal;
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestContext(log));
  app.use((req, res, next) => {
    res.once('close', () => {
      const context = ctx(res);
      const seconds = Number(process.hrtime.bigint() - context.startedAt) / 1e9;
      // 499 (nginx's "client closed request"): the client hung up before the answer was sent.
      const status = res.writableFinished ? res.statusCode : 499;
      // The route template, never the raw path: ids would explode the label set.
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      metrics.observeRequest(route, req.method, status, seconds);
      // Probes and scrapes arrive every few seconds; keep them out of the info log.
      const level = QUIET_ROUTES.has(route) && status < 400 ? 'debug' : 'info';
      context.log[level]({ method: req.method, route, status, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  });
  app.use(queryGuard());
  registerOpsRoutes(app, rc);
  registerClassicRoutes(app, rc);
  registerJobRoutes(app, rc);
  registerIdentityRoutes(app, rc);
  registerCollectionRoutes(app, rc);
  registerCollectionIdentityRoutes(app, rc);
  registerWebhookRoutes(app, rc);
  registerUnknownRoutes(app, rc);
  registerUnknownSearchRoute(app, rc);
  registerOperatorRoutes(app, rc);
  registerConsoleRoutes(app, rc);
  app.use((req) => {
    throw new HttpNotFoundError(`no route ${req.method} ${req.path.slice(0, 200)}`);
  });
  app.use(problemHandler(limits));

  async function start(host: string, port: number): Promise<RunningWeb> {
    authEnabled = config.web.auth ?? !isLoopback(host);
    if (authEnabled && !(await hasActiveKey(deps.keys))) {
      throw new WebStartError(
        `API keys are required on ${host} (not a loopback address, or auth is on) and none exists; create one with \`facefleet keys create --role operator\`, or bind to 127.0.0.1`,
      );
    }
    const server = http.createServer(
      {
        headersTimeout: tuning.headersTimeoutMs,
        requestTimeout: tuning.requestTimeoutMs,
        keepAliveTimeout: tuning.keepAliveTimeoutMs,
        connectionsCheckingInterval: tuning.connectionsCheckingIntervalMs,
      },
      app,
    );
    server.keepAliveTimeout = tuning.keepAliveTimeoutMs;
    server.on('connection', (socket) => rc.auth.admitConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new WebStartError(`port ${port} is in use; pick another with --port`, { cause: err }) : err);
      });
      server.listen(port, host, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

    let closing: Promise<void> | undefined;
    return {
      url,
      auth: authEnabled,
      close() {
        closing ??= new Promise<void>((resolve) => {
          shutdown.abort();
          const force = setTimeout(() => server.closeAllConnections(), tuning.closeGraceMs);
          force.unref();
          // Ended long-polls leave keep-alive sockets idle a moment later; close them as they go idle.
          const reap = setInterval(() => server.closeIdleConnections(), 50);
          reap.unref();
          server.close(() => {
            clearTimeout(force);
            clearInterval(reap);
            resolve();
          });
          server.closeIdleConnections();
        });
        return closing;
      },
    };
  }

  return { app, start, registry: webMetrics.registry, jobSettled: (id) => jobWatch?.settled(id) };
}
