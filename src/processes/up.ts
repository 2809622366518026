/**
 * `facefleet up`: the whole system on one machine: the web tier (with the sweeper), the
 * controller and its fleet of worker processes, on the configured stores.
 */
import type { Config } from '../config.js';
import { loggerFor } from '../log.js';
import { startController } from './controller.js';
import { onShutdown } from './signals.js';
import { startWebTier } from './web.js';

export async function runUp(config: Config): Promise<void> {
  const log = loggerFor(config, 'facefleet');
  const [{ createWebApp }, { createControllerMetrics }, { openServices }] = await Promise.all([
    import('../web/app.js'),
    import('../controller/metrics.js'),
    import('../services.js'),
  ]);
  const services = await openServices(config, log);
  const metrics = createControllerMetrics();
  // The local fleet's workers report finished jobs to this web tier (settle hints), except on
  // the AWS backend, where the fleet is EC2 and nothing reports.
  const hints = config.backend === 'local';
  const web = createWebApp({ config, log, ...services, extraMetrics: [metrics.registry], settleHints: hints });
  const server = await startWebTier(web, config, services, log);
  const running = await startController(config, services, log, { metrics, onJobSettled: hints ? web.jobSettled : undefined });
  onShutdown(
    log,
    async () => {
      await running.stop();
      await server.close();
      await services.close();
    },
    (config.worker.shutdownTimeoutSeconds + 15) * 1000,
  );
  log.info({ url: server.url, dataDir: config.dataDir, minWorkers: config.fleet.minWorkers, maxWorkers: config.fleet.maxWorkers }, 'facefleet is up');
  process.stderr.write(
    `facefleet listening on ${server.url}  (data in ${config.dataDir}; workers ${config.fleet.minWorkers}..${config.fleet.maxWorkers}, autoscaled; Ctrl-C stops)\n`,
  );
}
