/**
 * A worker process for the webhook fault test, run as
 * `node --import tsx test/helpers/webhook-worker-child.ts` with the `FACEFLEET_*` environment:
 * the real services (`openServices`) and the real worker loop, with an engine that finds no face
 * (deliveries need no model). Logs JSON to stderr like `facefleet worker`.
 */
import { loadConfig } from '../../src/config.js';
import { loggerFor } from '../../src/log.js';
import { openServices } from '../../src/services.js';
import { createWorker } from '../../src/worker/worker.js';
import { noFaceEngine } from './webhooks.js';

const config = loadConfig();
const log = loggerFor(config, 'webhook-worker');
const services = await openServices(config, log);
const worker = createWorker({ config, log, engine: noFaceEngine, ...services, announce: services.publisher.jobSettled });
process.once('SIGTERM', () => {
  void worker.stop(2_000).then(async () => {
    await services.close();
    process.exit(0);
  });
});
log.info({ workerId: config.worker.id }, 'worker ready');
await worker.run();
