/**
 * The port contracts (except the queue's, which has a file of its own because it mostly
 * waits on visibility timeouts; the intake only sends and receives) against the AWS adapters on dynalite and fauxqs. One file,
 * one pair of emulators: importing the SDK is the slow part.
 */
import { blobStoreContract } from '../../contract/blob-store.contract.js';
import { galleryCollectionsContract } from '../../contract/gallery-collections.contract.js';
import { galleryContract } from '../../contract/gallery.contract.js';
import { jobIntakeContract } from '../../contract/job-intake.contract.js';
import { jobStoreContract } from '../../contract/job-store.contract.js';
import { keyStoreContract } from '../../contract/key-store.contract.js';
import { webhookStoreContract } from '../../contract/webhook-store.contract.js';
import { workerRegistryContract } from '../../contract/worker-registry.contract.js';
import { DynamoGallery } from '../../../src/store/aws/dynamo-gallery.js';
import { DynamoJobStore } from '../../../src/store/aws/dynamo-job-store.js';
import { DynamoKeyStore } from '../../../src/store/aws/dynamo-key-store.js';
import { DynamoWebhookStore } from '../../../src/store/aws/dynamo-webhook-store.js';
import { DynamoWorkerRegistry } from '../../../src/store/aws/dynamo-worker-registry.js';
import { S3BlobStore } from '../../../src/store/aws/s3-blob-store.js';
import { SqsJobQueue } from '../../../src/store/aws/sqs-job-queue.js';
import { withFaults } from '../../../src/store/faults.js';
import { createThenSendIntake } from '../../../src/store/intake.js';
import { createBucket, createQueues, createTables, freshNames, itemsContaining, jobStoreWithBlobs, useEmulators } from './harness.js';

const env = useEmulators();

blobStoreContract('S3BlobStore on fauxqs', async () => {
  const names = freshNames('blob');
  const cleanup = await createBucket(env, names);
  return { blobs: new S3BlobStore({ s3: env.clients.s3, bucket: names.bucket }), cleanup };
});

jobStoreContract('DynamoJobStore on dynalite', async () => {
  const { jobs, cleanup } = await jobStoreWithBlobs(env, 'jobs');
  return { jobs, cleanup };
});

jobIntakeContract('createThenSendIntake on dynalite and fauxqs (the AWS intake)', async ({ failSends }) => {
  const names = freshNames('intake');
  const dropTables = await createTables(env, names, [names.jobsTable]);
  const dropBucket = await createBucket(env, names);
  const dropQueues = await createQueues(env, names, 3);
  const blobs = new S3BlobStore({ s3: env.clients.s3, bucket: names.bucket });
  const jobs = new DynamoJobStore({ doc: env.clients.doc, table: names.jobsTable, stateIndex: names.jobsStateIndex, blobs });
  const queue = new SqsJobQueue({ sqs: env.clients.sqs, queueName: names.queue, deadLetterQueueName: names.deadLetterQueue, requestTimeoutMs: 5_000 });
  return {
    intake: createThenSendIntake(jobs, failSends ? withFaults(queue, { send: { times: 1_000 } }) : queue),
    jobs,
    queue,
    atomic: false,
    cleanup: async () => {
      await queue.close();
      await dropQueues();
      await dropTables();
      await dropBucket();
    },
  };
});

galleryContract('DynamoGallery on dynalite', async () => {
  const names = freshNames('gallery');
  const cleanup = await createTables(env, names, [names.galleryTable]);
  return { gallery: new DynamoGallery({ doc: env.clients.doc, table: names.galleryTable }), cleanup };
});

galleryCollectionsContract('DynamoGallery on dynalite', async () => {
  const names = freshNames('gallery');
  const cleanup = await createTables(env, names, [names.galleryTable]);
  return { gallery: new DynamoGallery({ doc: env.clients.doc, table: names.galleryTable }), cleanup, contains: (needles) => itemsContaining(env, names.galleryTable, needles) };
});

keyStoreContract('DynamoKeyStore on dynalite', async () => {
  const names = freshNames('keys');
  const cleanup = await createTables(env, names, [names.keysTable]);
  return { keys: new DynamoKeyStore({ doc: env.clients.doc, table: names.keysTable }), cleanup };
});

workerRegistryContract('DynamoWorkerRegistry on dynalite', async () => {
  const names = freshNames('workers');
  const cleanup = await createTables(env, names, [names.workersTable]);
  return { registry: new DynamoWorkerRegistry({ doc: env.clients.doc, table: names.workersTable }), cleanup };
});

webhookStoreContract('DynamoWebhookStore on dynalite (the gallery table)', async () => {
  const names = freshNames('webhooks');
  const cleanup = await createTables(env, names, [names.galleryTable]);
  return { webhooks: new DynamoWebhookStore({ doc: env.clients.doc, table: names.galleryTable }), cleanup };
});
