import type { Command } from 'commander';
import { RETIRED_EXIT_CODE } from '../controller/fleet.js';
import { openServices } from '../services.js';
import { addGlobalOptions, configFrom, loggerFor, PIPELINE_OPTION, ENGINE_BACKEND_OPTION, engineBackendOptions } from './options.js';
import { onShutdown } from './signals.js';

export function registerWorkerCommand(program: Command): void {
  addGlobalOptions(
    program
      .command('worker')
      .description('run one worker: receive jobs from the queue and recognise faces until SIGTERM')
      .option('--worker-id <id>', 'worker id (env FACEFLEET_WORKER_ID, default <host>-<pid>)')
      .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION),
  ).action(async (opts) => {
    const config = configFrom(opts);
    const log = loggerFor(config, 'facefleet-worker');
    // Imported here, not at the top: TensorFlow takes seconds to load and other commands never need it.
    const [{ loadEngine }, { createWorker }] = await Promise.all([import('../recognition/engine.js'), import('../worker/worker.js')]);
    const engine = await loadEngine({ tfBackend: config.recognition.tfBackend, ...engineBackendOptions(config), maxInputPixels: config.recognition.maxInputPixels, pipeline: config.recognition.pipeline, log });
    const services = await openServices(config, log);
    // Under a parent that listens (the local fleet of `facefleet up`), report finished jobs so
    // the web tier's long-polls answer at once. `send` fails only when the parent is gone.
    const onSettled = process.send ? (jobId: string) => void process.send?.({ type: 'job-settled', jobId }, undefined, {}, () => undefined) : undefined;
    const worker = createWorker({ config, log, engine, ...services, onSettled });
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
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'retire') worker.retire();
    });
    // Launched for one backlog only: take what waits, then exit.
    if (process.env.FACEFLEET_RETIRE === '1') worker.retire();
    // Tell a parent (the local fleet) that the model is loaded and jobs are being taken.
    process.send?.({ type: 'ready', workerId: config.worker.id });
    await worker.run();
    if (worker.retiring()) {
      // run() ended because the queue was empty: close everything and exit with the code that
      // tells the fleet (or, on EC2, systemd) this was a retirement, not a crash.
      await release();
      log.info({ exitCode: RETIRED_EXIT_CODE }, 'worker retired');
      process.exit(RETIRED_EXIT_CODE);
    }
  });
}
