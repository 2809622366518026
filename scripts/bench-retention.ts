/**
 * Retention sweep benchmark (not a test): how long one `sweepRetention` batch takes on the local
 * backend. Creates `--jobs` `done` jobs ended 40 days ago, each with a 50 kB input, in a fresh
 * temp data dir, times one sweep (which expires them all when `--jobs` <= 500), and repeats.
 *
 *   npx tsx scripts/bench-retention.ts [--jobs 500] [--runs 3]
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { sweepRetention } from '../src/jobs/retention.js';
import type { JobRecord } from '../src/jobs/types.js';
import { openLocalStores } from '../src/store/local/index.js';

const opts = new Command().option('--jobs <n>', 'jobs per run', '500').option('--runs <n>', 'runs', '3').parse().opts<{ jobs: string; runs: string }>();
const jobs = Number(opts.jobs);
const runs = Number(opts.runs);
const ended = new Date(Date.now() - 40 * 86_400_000).toISOString();

for (let run = 1; run <= runs; run++) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-bench-retention-'));
  const stores = openLocalStores({ dataDir: dir });
  try {
    for (let i = 0; i < jobs; i++) {
      const id = randomUUID();
      const record: JobRecord = {
        id, version: 0, state: 'done', kind: 'recognize', createdAt: ended, updatedAt: ended,
        input: { key: `inputs/${id.slice(0, 2)}/${id}`, contentType: 'image/jpeg', bytes: 50_000 },
        options: { topK: 3, threshold: 0.6 },
        snapshot: { value: 'done', context: { id, attempts: 1, maxAttempts: 3, history: [] } },
      };
      await stores.blobs.put(record.input.key, Buffer.alloc(50_000, 1));
      await stores.jobs.create(record);
    }
    const started = performance.now();
    const report = await sweepRetention(stores, { inputRetentionSeconds: 86_400, jobRetentionSeconds: 30 * 86_400 });
    process.stdout.write(`run ${run}: ${JSON.stringify(report)} in ${(performance.now() - started).toFixed(0)} ms\n`);
  } finally {
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
