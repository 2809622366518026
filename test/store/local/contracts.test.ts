import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blobStoreContract } from '../../contract/blob-store.contract.js';
import { filesContaining } from '../../helpers/residue.js';
import { galleryCollectionsContract } from '../../contract/gallery-collections.contract.js';
import { galleryContract } from '../../contract/gallery.contract.js';
import { jobIntakeContract } from '../../contract/job-intake.contract.js';
import { jobQueueContract } from '../../contract/job-queue.contract.js';
import { jobStoreContract } from '../../contract/job-store.contract.js';
import { keyStoreContract } from '../../contract/key-store.contract.js';
import { webhookStoreContract } from '../../contract/webhook-store.contract.js';
import { workerRegistryContract } from '../../contract/worker-registry.contract.js';
import {
  FileBlobStore,
  SqliteGallery,
  SqliteJobQueue,
  SqliteJobStore,
  SqliteKeyStore,
  SqliteWebhookStore,
  SqliteWorkerRegistry,
  acquireDatabase,
} from '../../../src/store/local/index.js';
import { withFaults } from '../../../src/store/faults.js';
import { createThenSendIntake } from '../../../src/store/intake.js';

async function tempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

blobStoreContract('FileBlobStore', async () => {
  const { dir, cleanup } = await tempDir();
  return { blobs: new FileBlobStore(path.join(dir, 'blobs')), dataDir: dir, cleanup };
});

jobStoreContract('SqliteJobStore', async () => {
  const { dir, cleanup } = await tempDir();
  return { jobs: new SqliteJobStore(acquireDatabase(dir)), dataDir: dir, cleanup };
});

jobIntakeContract('SqliteJobStore.intakeWith: one transaction', async ({ failSends }) => {
  const { dir, cleanup } = await tempDir();
  const lease = acquireDatabase(dir);
  const jobs = new SqliteJobStore(acquireDatabase(dir));
  const queue = new SqliteJobQueue(acquireDatabase(dir));
  // A temporary trigger on the stores' shared connection refuses every message.
  if (failSends) lease.db.exec(`CREATE TEMP TRIGGER refuse_send BEFORE INSERT ON queue_messages BEGIN SELECT RAISE(ABORT, 'refused'); END`);
  return {
    intake: jobs.intakeWith(queue),
    jobs,
    queue,
    atomic: true,
    cleanup: async () => {
      await jobs.close();
      await queue.close();
      lease.release();
      await cleanup();
    },
  };
});

jobIntakeContract('createThenSendIntake on SQLite (as under fault injection)', async ({ failSends }) => {
  const { dir, cleanup } = await tempDir();
  const jobs = new SqliteJobStore(acquireDatabase(dir));
  const queue = new SqliteJobQueue(acquireDatabase(dir));
  const sending = failSends ? withFaults(queue, { send: { times: 1_000 } }) : queue;
  return {
    intake: createThenSendIntake(jobs, sending),
    jobs,
    queue,
    atomic: false,
    cleanup: async () => {
      await jobs.close();
      await queue.close();
      await cleanup();
    },
  };
});

jobQueueContract('SqliteJobQueue', async ({ maxReceiveCount }) => {
  const { dir, cleanup } = await tempDir();
  return { queue: new SqliteJobQueue(acquireDatabase(dir), { maxReceiveCount }), cleanup };
});

galleryContract('SqliteGallery', async () => {
  const { dir, cleanup } = await tempDir();
  return { gallery: new SqliteGallery(acquireDatabase(dir)), cleanup };
});

galleryCollectionsContract('SqliteGallery', async () => {
  const { dir, cleanup } = await tempDir();
  return { gallery: new SqliteGallery(acquireDatabase(dir)), cleanup, contains: (needles) => filesContaining(dir, needles) };
});

keyStoreContract('SqliteKeyStore', async () => {
  const { dir, cleanup } = await tempDir();
  return { keys: new SqliteKeyStore(acquireDatabase(dir)), cleanup };
});

workerRegistryContract('SqliteWorkerRegistry', async () => {
  const { dir, cleanup } = await tempDir();
  return { registry: new SqliteWorkerRegistry(acquireDatabase(dir)), cleanup };
});

webhookStoreContract('SqliteWebhookStore', async () => {
  const { dir, cleanup } = await tempDir();
  return { webhooks: new SqliteWebhookStore(acquireDatabase(dir)), cleanup };
});
