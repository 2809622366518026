/**
 * A worker stand-in for the cross-process queue tests, run as
 * `node --import tsx test/helpers/queue-child.ts <dataDir> <loops>`.
 * It prints `ready`, then runs `<loops>` concurrent receive loops on the SQLite queue in
 * `<dataDir>`, deleting every message it gets (visibility 30 s, so none lapses). On a `stop`
 * line on stdin it ends its long polls and prints one JSON line: every delivery it saw.
 */
import readline from 'node:readline';
import { SqliteJobQueue, acquireDatabase } from '../../src/store/local/index.js';
import type { ReceivedMessage } from '../../src/store/ports.js';

const [dataDir, loopsArg] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: queue-child.ts <dataDir> [loops]');
const loops = Number(loopsArg ?? 2);

const queue = new SqliteJobQueue(acquireDatabase(dataDir));
const stop = new AbortController();
const deliveries: { messageId: string; jobId: string; receiveCount: number; pid: number }[] = [];

async function loop(): Promise<void> {
  while (!stop.signal.aborted) {
    const max = 1 + Math.floor(Math.random() * 3);
    let got: ReceivedMessage[];
    try {
      got = await queue.receive({ max, waitSeconds: 2, visibilitySeconds: 30, signal: stop.signal });
    } catch (err) {
      // Busy past the timeout is the one failure a worker retries; report anything else.
      if ((err as { code?: string }).code !== 'store-unavailable') throw err;
      continue;
    }
    for (const m of got) {
      deliveries.push({ messageId: m.messageId, jobId: m.body.jobId, receiveCount: m.receiveCount, pid: process.pid });
      await queue.delete(m.receipt);
    }
  }
}

const running = Array.from({ length: loops }, () => loop());
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stop') stop.abort();
});
process.stdout.write('ready\n');
await Promise.all(running);
await queue.close();
process.stdout.write(`${JSON.stringify(deliveries)}\n`);
process.exit(0);
