import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blobStoreContract } from '../../contract/blob-store.contract.js';
import { galleryCollectionsContract } from '../../contract/gallery-collections.contract.js';
import { galleryContract } from '../../contract/gallery.contract.js';
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
  const queue = new SqliteJobQueue(acquireDatabase(dir));
  const jobs = new SqliteJobStore(acquireDatabase(dir));
  return {
    jobs,
    queue,
    dataDir: dir,
    cleanup: async () => {
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
  return { gallery: new SqliteGallery(acquireDatabase(dir)), cleanup };
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
