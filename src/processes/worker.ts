/**
 * The worker process (`facefleet worker`): load the engine, open the stores, take jobs until
 * SIGTERM, or until the queue is empty after a retire request (see `./ipc.ts`).
 */
import path from 'node:path';
import { RETIRED_EXIT_CODE } from '../controller/fleet.js';
import { engineOptions, type Config } from '../config.js';
import { loggerFor } from '../log.js';
import { fatalExitCode } from '../worker/crash.js';
import { parseWorkerMessage, sendToParent } from './ipc.js';
import { onShutdown } from './signals.js';

export async function runWorker(config: Config): Promise<void> {
  const log = loggerFor(config, 'facefleet-worker');
  // Imported here, not at the top: TensorFlow takes seconds to load and other commands never need it.
  const [{ loadEngine }, { createWorker }, { openServices }] = await Promise.all([
    import('../recognition/engine.js'),
    import('../worker/worker.js'),
    import('../services.js'),
  ]);
  const engine = await loadEngine({ ...engineOptions(config), log });
  // Each net's first run costs more than the rest; pay it before taking jobs, not on the first one.
  const warmStart = performance.now();
  await engine.warmUp().then(
    () => log.debug({ ms: Math.round(performance.now() - warmStart) }, 'engine warmed up'),
    (err: unknown) => log.warn({ err }, 'engine warm-up failed; the first job pays the first-run cost'),
  );
  const services = await openServices(config, log);
  // Under a parent that listens (the local fleet of `facefleet up`), report finished jobs so
  // the web tier's long-polls answer at once.
  const onSettled = process.send ? (jobId: string) => sendToParent({ type: 'job-settled', jobId }) : undefined;
  // Large collections' graphs are saved under the data dir, and the next worker there loads them.
  const worker = createWorker({ config, log, engine, indexDir: path.join(config.dataDir, 'index-cache'), ...services, onSettled, announce: services.publisher.jobSettled, publishEvent: services.publisher.publishEvent });
  const release = async () => {
    await services.close();
    await engine.close();
  };
  onShutdown(
    log,
    async () => {
      const finished = await worker.stop(config.worker.shutdownTimeoutSeconds * 1000);
      if (!finished) log.warn('job in hand did not finish in time; its message will be redelivered');
      await release();
    },
    (config.worker.shutdownTimeoutSeconds + 5) * 1000,
  );
  log.info({ workerId: config.worker.id, backend: config.backend, engine: engine.backend, detector: engine.detector, pipeline: engine.pipeline }, 'worker ready');
  // The local fleet retires a worker over IPC when the fleet will not need it once the queue is empty.
  process.on('message', (message: unknown) => {
    if (parseWorkerMessage(message)?.type === 'retire') worker.retire();
  });
  // Launched for one backlog only: take what waits, then exit.
  if (process.env.FACEFLEET_RETIRE === '1') worker.retire();
  // Tell a parent (the local fleet) that the model is loaded and jobs are being taken.
  sendToParent({ type: 'ready', workerId: config.worker.id });
  await worker.run();
  const fatal = worker.fatal();
  if (fatal) {
    // Never another job on this process: exit, and the fleet starts a fresh one.
    const code = fatalExitCode(fatal);
    await release().catch(() => undefined);
    log.error({ exitCode: code, err: fatal.toJSON() }, 'worker exiting so the fleet replaces it');
    process.exit(code);
  }
  if (worker.retiring()) {
    // run() ended because the queue was empty: close everything and exit with the code that
    // tells the fleet (or, on EC2, systemd) this was a retirement, not a crash.
    await release();
    log.info({ exitCode: RETIRED_EXIT_CODE }, 'worker retired');
    process.exit(RETIRED_EXIT_CODE);
  }
}
