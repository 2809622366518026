import type { Express } from 'express';
import { ServiceUnavailableError } from '../errors.js';
import { openApiDocument } from '../openapi.js';
import type { RouteContext } from '../route-context.js';

function ping(name: string, fn: () => Promise<void>, timeoutMs: number): Promise<[string, string]> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve([name, `no answer within ${timeoutMs} ms`]), timeoutMs);
    fn().then(
      () => resolve([name, 'ok']),
      (err: unknown) => resolve([name, err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)]),
    ).finally(() => clearTimeout(timer));
  });
}

/** Health, readiness, metrics and the API description: no key needed. */
export function registerOpsRoutes(app: Express, rc: RouteContext): void {
  const { blobs, jobs, queue, gallery } = rc.deps;

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const timeout = rc.tuning.readyTimeoutMs;
    if (rc.breaker.state() !== 'closed') {
      // An open breaker closes only when a call gets through it after the cool-down, and a load
      // balancer sends no calls to a tier that is not ready: without this probe the tier would
      // stay unready after the stores came back. While closed, pings stay out of the breaker,
      // so a healthy ping cannot reset the run of failures that real requests are building.
      const all = async () => void (await Promise.all([blobs.ping(), jobs.ping(), queue.ping(), gallery.ping()]));
      await ping('probe', () => rc.guard(all), timeout);
    }
    const results = await Promise.all([
      ping('blobs', () => blobs.ping(), timeout),
      ping('jobs', () => jobs.ping(), timeout),
      ping('queue', () => queue.ping(), timeout),
      ping('gallery', () => gallery.ping(), timeout),
    ]);
    const checks = Object.fromEntries(results);
    const breaker = rc.breaker.state();
    const failing = results.filter(([, v]) => v !== 'ok').map(([k]) => k);
    // An open breaker fails requests even when a ping gets through, so it is not ready either.
    if (failing.length > 0 || breaker === 'open') {
      const what = failing.length > 0 ? `not answering: ${failing.join(', ')}` : 'the store circuit breaker is open';
      throw new ServiceUnavailableError(`not ready; ${what}`, { retryAfterSeconds: 5, extensions: { checks, breaker, failing } });
    }
    res.json({ status: 'ready', checks, breaker });
  });

  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await rc.metrics.render(rc.deps.extraMetrics ?? []);
    res.type(contentType).send(body);
  });

  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
}
