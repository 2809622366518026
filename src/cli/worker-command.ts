import type { Command } from 'commander';
import { addGlobalOptions, configFrom, PIPELINE_OPTION, ENGINE_BACKEND_OPTION } from './options.js';

export function registerWorkerCommand(program: Command): void {
  addGlobalOptions(
    program
      .command('worker')
      .description('run one worker: receive jobs from the queue and recognise faces until SIGTERM')
      .option('--worker-id <id>', 'worker id (env FACEFLEET_WORKER_ID, default <host>-<pid>)')
      .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION),
  ).action(async (opts) => {
    const { runWorker } = await import('../processes/worker.js');
    await runWorker(configFrom(opts));
  });
}
