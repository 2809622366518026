/**
 * Sends one message from another process, for the cross-process queue tests:
 * `node --import tsx test/helpers/queue-send.ts <dataDir> <jobId>`. Exits 0 once sent.
 */
import { SqliteJobQueue, acquireDatabase } from '../../src/store/local/index.js';

const [dataDir, jobId] = process.argv.slice(2);
if (!dataDir || !jobId) throw new Error('usage: queue-send.ts <dataDir> <jobId>');
const queue = new SqliteJobQueue(acquireDatabase(dataDir));
await queue.send({ jobId });
await queue.close();
