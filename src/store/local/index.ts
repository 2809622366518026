import path from 'node:path';
import type { Logger } from '../../log.js';
import type { Stores } from '../ports.js';
import { FileBlobStore } from './blob-store.js';
import { SqliteGallery } from './gallery.js';
import { SqliteJobQueue } from './job-queue.js';
import { SqliteJobStore } from './job-store.js';
import { SqliteKeyStore } from './key-store.js';
import { acquireDatabase } from './sqlite.js';
import { SqliteWebhookStore } from './webhook-store.js';
import { SqliteWorkerRegistry } from './worker-registry.js';

export { FileBlobStore } from './blob-store.js';
export { validateBlobKey, MAX_KEY_LENGTH } from '../blob-key.js';
export { SqliteGallery } from './gallery.js';
export { SqliteJobQueue, type SqliteJobQueueOptions } from './job-queue.js';
export { SqliteJobStore } from './job-store.js';
export { SqliteKeyStore } from './key-store.js';
export { SqliteWebhookStore } from './webhook-store.js';
export { SqliteWorkerRegistry } from './worker-registry.js';
export { acquireDatabase, translateSqliteError, DATABASE_FILE, type SqliteLease } from './sqlite.js';

export interface LocalStoresOptions {
  /** Holds `facefleet.db` and `blobs/`; created if missing. */
  dataDir: string;
  /** Queue redrive: receives before a message is dead-lettered. Default 3. */
  maxReceiveCount?: number;
  log?: Logger;
  /** Epoch-ms clock for the queue and gallery. Default `Date.now`. */
  now?: () => number;
  /** Queue long-poll interval for cross-process sends, ms. Default 20. */
  pollIntervalMs?: number;
}

/** The embedded stores; the shared SQLite connection closes with the last of them. */
export type LocalStores = Stores;

/**
 * The embedded stores on one data dir: SQLite at `<dataDir>/facefleet.db` (one connection per
 * process, shared by the adapters) and files under `<dataDir>/blobs`.
 * Throws StoreUnavailableError when the database cannot be opened.
 */
export function openLocalStores(options: LocalStoresOptions): LocalStores {
  const { dataDir, log } = options;
  const opened: { close(): Promise<void> }[] = [];
  try {
    const blobs = new FileBlobStore(path.join(dataDir, 'blobs'), { log });
    opened.push(blobs);
    const jobs = new SqliteJobStore(acquireDatabase(dataDir, log));
    opened.push(jobs);
    const queue = new SqliteJobQueue(acquireDatabase(dataDir, log), {
      maxReceiveCount: options.maxReceiveCount,
      now: options.now,
      pollIntervalMs: options.pollIntervalMs,
      log,
    });
    opened.push(queue);
    // One transaction for a new job's record and its message: both live in this database.
    const intake = jobs.intakeWith(queue);
    const gallery = new SqliteGallery(acquireDatabase(dataDir, log), { now: options.now });
    opened.push(gallery);
    const keys = new SqliteKeyStore(acquireDatabase(dataDir, log));
    opened.push(keys);
    const registry = new SqliteWorkerRegistry(acquireDatabase(dataDir, log));
    opened.push(registry);
    const webhooks = new SqliteWebhookStore(acquireDatabase(dataDir, log));
    opened.push(webhooks);
    return {
      blobs,
      jobs,
      queue,
      intake,
      gallery,
      keys,
      registry,
      webhooks,
      async close() {
        for (const store of opened) await store.close();
      },
    };
  } catch (err) {
    for (const store of opened) void store.close();
    throw err;
  }
}
