/**
 * The AWS adapters. Only this folder and `src/aws` import
 * `@aws-sdk/*`; the wiring reaches them with `await import()` when the backend is `aws`, so
 * local mode never loads the SDK.
 */
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../../aws/clients.js';
import { resourceNames } from '../../aws/names.js';
import type { Stores } from '../ports.js';
import { createThenSendIntake } from '../intake.js';
import { DynamoGallery } from './dynamo-gallery.js';
import { DynamoJobStore } from './dynamo-job-store.js';
import { DynamoKeyStore } from './dynamo-key-store.js';
import { DynamoWorkerRegistry } from './dynamo-worker-registry.js';
import { DynamoWebhookStore } from './dynamo-webhook-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SqsJobQueue } from './sqs-job-queue.js';

export { classifyAwsError, awsErrorCode, isTransientAwsError } from './errors.js';
export { S3BlobStore } from './s3-blob-store.js';
export { SqsJobQueue } from './sqs-job-queue.js';
export { DynamoJobStore, MAX_INLINE_RECORD_BYTES } from './dynamo-job-store.js';
export { DynamoGallery } from './dynamo-gallery.js';
export { DynamoKeyStore } from './dynamo-key-store.js';
export { DynamoWorkerRegistry } from './dynamo-worker-registry.js';

/** The AWS stores, typed as their adapters (tests reach AWS-only methods such as `redriveAll`). */
export interface AwsStores extends Stores {
  blobs: S3BlobStore;
  jobs: DynamoJobStore;
  queue: SqsJobQueue;
  gallery: DynamoGallery;
  keys: DynamoKeyStore;
  registry: DynamoWorkerRegistry;
}

export interface OpenAwsStoresOverrides {
  /** Use these clients instead of building them (tests). They are destroyed by close(). */
  clients?: AwsClients;
  /** Extra client options (tests: endpoints, static credentials). */
  clientOptions?: Partial<AwsClientOptions>;
}

/**
 * Open every store on AWS for `config.prefix`: S3 bucket, SQS queue + DLQ, DynamoDB tables,
 * as created by `provision`. Nothing is called until first use, so opening never fails on
 * the network; `ping()` on each store checks the resources are there.
 */
export async function openAwsStores(config: Config, log: Logger, overrides: OpenAwsStoresOverrides = {}): Promise<AwsStores> {
  const names = resourceNames(config.prefix);
  const clients =
    overrides.clients ??
    createAwsClients({
      region: config.aws.region,
      requestTimeoutMs: config.aws.requestTimeoutMs,
      maxAttempts: config.aws.maxAttempts,
      ...overrides.clientOptions,
    });
  const alog = log.child({ backend: 'aws', prefix: config.prefix });
  const blobs = new S3BlobStore({ s3: clients.s3, bucket: names.bucket, ...(config.aws.kmsKeyId ? { kmsKeyId: config.aws.kmsKeyId } : {}), log: alog });
  const stores = {
    blobs,
    jobs: new DynamoJobStore({ doc: clients.doc, table: names.jobsTable, stateIndex: names.jobsStateIndex, blobs, log: alog }),
    queue: new SqsJobQueue({
      sqs: clients.sqs,
      queueName: names.queue,
      deadLetterQueueName: names.deadLetterQueue,
      requestTimeoutMs: config.aws.requestTimeoutMs,
      log: alog,
    }),
    gallery: new DynamoGallery({ doc: clients.doc, table: names.galleryTable, log: alog }),
    keys: new DynamoKeyStore({ doc: clients.doc, table: names.keysTable }),
    registry: new DynamoWorkerRegistry({ doc: clients.doc, table: names.workersTable }),
    webhooks: new DynamoWebhookStore({ doc: clients.doc, table: names.galleryTable }),
  };
  let closed: Promise<void> | undefined;
  return {
    ...stores,
    // DynamoDB and SQS share no transaction: create the record, then send.
    intake: createThenSendIntake(stores.jobs, stores.queue),
    close() {
      closed ??= (async () => {
        await Promise.allSettled(Object.values(stores).map((s) => s.close()));
        clients.destroy();
      })();
      return closed;
    },
  };
}
