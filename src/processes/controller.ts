/**
 * The controller process (`facefleet controller`, and the controller inside `facefleet up`):
 * the fleet for the backend, the scaling loop, the dead-letter reconciler and the status blob
 * that `facefleet status` reads.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configToEnv, type Config } from '../config.js';
import { errorInfo } from '../errors.js';
import { reconcileDeadLetters } from '../jobs/operations.js';
import { loggerFor, type Logger } from '../log.js';
import type { Controller } from '../controller/controller.js';
import type { Fleet } from '../controller/fleet.js';
import type { ControllerMetrics } from '../controller/metrics.js';
import type { Services } from '../services.js';
import { onShutdown } from './signals.js';

/** Where the controller publishes its state for `facefleet status` (works on both backends). */
export const CONTROLLER_STATUS_KEY = 'controller/status.json';

/** The CLI, in the extension this module runs under (`.ts` through tsx, `.js` when built). */
const CLI_PATH = fileURLToPath(new URL('../cli/main.js', import.meta.url)).replace(/\.js$/, path.extname(fileURLToPath(import.meta.url)));

/** The local fleet's worker command: this same CLI, in this same Node (with its loaders). */
function workerCommand(): string[] {
  return [process.execPath, ...process.execArgv, CLI_PATH, 'worker'];
}

/** The fleet of the configured backend: EC2 on AWS, worker child processes locally. */
export async function openFleet(config: Config, log: Logger, onJobSettled?: (jobId: string) => void): Promise<Fleet> {
  if (config.backend === 'aws') {
    const { openEc2Fleet } = await import('../store/aws/ec2-fleet.js');
    return openEc2Fleet(config, log);
  }
  // Each local worker would check this itself, fail and be replaced every tick; say it once, here.
  if (config.recognition.pipeline === 'dlib-ensemble') {
    const { assertEnsembleModels } = await import('../recognition/ensemble.js');
    assertEnsembleModels();
  }
  const { createLocalFleet } = await import('../controller/local-fleet.js');
  return createLocalFleet({
    command: workerCommand(),
    env: { ...process.env, ...configToEnv(config) },
    log,
    stopTimeoutMs: (config.worker.shutdownTimeoutSeconds + 5) * 1000,
    onJobSettled,
  });
}

export interface RunningController {
  controller: Controller;
  stop(): Promise<void>;
}

/** Start the controller loop, the dead-letter reconciler and the status publisher. */
export async function startController(
  config: Config,
  services: Services,
  log: Logger,
  options: { metrics?: ControllerMetrics; onJobSettled?: (jobId: string) => void } = {},
): Promise<RunningController> {
  const { metrics } = options;
  const [{ createBreaker }, { createController }] = await Promise.all([import('../controller/breaker.js'), import('../controller/controller.js')]);
  const fleet = await openFleet(config, log, options.onJobSettled);
  const breaker = createBreaker({ name: 'controller', failureThreshold: 5, cooldownMs: 30_000, log });
  const controller = createController({ fleet, queue: services.queue, registry: services.registry, config: config.fleet, log, breaker, metrics });
  controller.start();
  // Reconciling scans the whole dead-letter queue (on SQS: receives every message), so it
  // runs once a minute, not every tick; the status blob is cheap and follows the ticks.
  const reconcileEveryMs = config.fleet.reconcileSeconds * 1000;
  let lastReconcile = 0;
  const housekeeping = setInterval(() => {
    void (async () => {
      try {
        if (Date.now() - lastReconcile >= reconcileEveryMs) {
          lastReconcile = Date.now();
          await reconcileDeadLetters({ queue: services.queue, runner: services.runner, log });
        }
        await services.blobs.put(CONTROLLER_STATUS_KEY, Buffer.from(JSON.stringify({ ...controller.status(), at: new Date().toISOString() })), { contentType: 'application/json' });
      } catch (err) {
        log.warn({ err: errorInfo(err) }, 'controller housekeeping failed');
      }
    })();
  }, Math.max(1000, config.fleet.intervalSeconds * 1000));
  housekeeping.unref();
  return {
    controller,
    async stop() {
      clearInterval(housekeeping);
      await controller.stop();
      await fleet.close();
    },
  };
}

/** `facefleet controller`: the controller alone, until SIGTERM. */
export async function runController(config: Config): Promise<void> {
  const log = loggerFor(config, 'facefleet-controller');
  const { openServices } = await import('../services.js');
  const services = await openServices(config, log);
  const running = await startController(config, services, log);
  onShutdown(
    log,
    async () => {
      await running.stop();
      await services.close();
    },
    (config.worker.shutdownTimeoutSeconds + 15) * 1000,
  );
  log.info({ backend: config.backend, fleet: config.fleet }, 'controller running');
}
