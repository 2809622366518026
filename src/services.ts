/**
 * Wiring: build the adapters behind every port from the configuration. Local mode opens
 * SQLite and files under the data dir; AWS mode imports the AWS adapters lazily, so local
 * mode never loads `@aws-sdk/*`.
 */
import type { Config } from './config.js';
import { createJobEffects } from './jobs/effects.js';
import { createJobRunner, type JobRunner } from './jobs/runner.js';
import type { Logger } from './log.js';
import type { Stores } from './store/ports.js';
import { createWebhookDeliverer, type WebhookDeliverer } from './webhooks/deliver.js';
import { createWebhookPublisher, type WebhookPublisher } from './webhooks/publish.js';

/** The stores of the configured backend, plus the job runner and the webhooks on top of them. */
export interface Services extends Stores {
  runner: JobRunner;
  /** Turns events into webhook delivery jobs; `publishEvent` is how other code emits one. */
  publisher: WebhookPublisher;
  /** Sends webhook delivery jobs (workers). */
  deliveries: WebhookDeliverer;
}

async function openStores(config: Config, log: Logger): Promise<Stores> {
  if (config.backend === 'aws') {
    const aws = await import('./store/aws/index.js');
    return aws.openAwsStores(config, log);
  }
  const local = await import('./store/local/index.js');
  return local.openLocalStores({ dataDir: config.dataDir, maxReceiveCount: config.queue.maxReceiveCount, log });
}

/**
 * The job runner, its effects and the webhook publisher over `stores`. The one place finished
 * jobs are announced: the job machine's `announce` effect calls `publisher.jobSettled`.
 */
export function buildRunner(config: Pick<Config, 'webhooks' | 'worker'>, stores: Pick<Stores, 'jobs' | 'queue' | 'blobs' | 'webhooks'> & Partial<Pick<Stores, 'intake'>>, log: Logger) {
  let runner: JobRunner | undefined;
  const publisher = createWebhookPublisher({ config, webhooks: stores.webhooks, blobs: stores.blobs, jobs: stores.jobs, runner: () => runner!, log });
  const effects = createJobEffects({
    queue: stores.queue,
    log,
    retryBaseSeconds: config.worker.retryBaseSeconds,
    announce: (record, state) => publisher.jobSettled(record, state),
    blobs: stores.blobs,
  });
  runner = createJobRunner({ store: stores.jobs, effects, ...(stores.intake ? { intake: stores.intake } : {}), log });
  return { runner, publisher, effects };
}

/** Open every store for `config.backend` and build the job runner on top of them. */
export async function openServices(config: Config, log: Logger): Promise<Services> {
  let stores = await openStores(config, log);
  if (config.faults) {
    // Test-only: make chosen store methods fail on a plan (see src/store/faults.ts).
    const { applyFaultPlan, parseFaultPlans } = await import('./store/faults.js');
    const plans = parseFaultPlans(config.faults);
    stores = applyFaultPlan(stores, config.faults, log);
    if ((plans.jobs || plans.queue) && !plans.intake) {
      // The transactional intake would go round the wrapped job store or queue: take new jobs
      // through them instead, create then send, so their faults reach submits too.
      const { createThenSendIntake } = await import('./store/intake.js');
      stores = { ...stores, intake: createThenSendIntake(stores.jobs, stores.queue) };
      log.warn('fault injection wraps the job store or queue: new jobs are created, then sent, through the wrapped stores');
    }
  }
  const { runner, publisher } = buildRunner(config, stores, log);
  const deliveries = createWebhookDeliverer({ config, webhooks: stores.webhooks, blobs: stores.blobs, log });
  return { ...stores, runner, publisher, deliveries };
}
