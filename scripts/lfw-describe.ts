/**
 * Describe every LFW image once into the descriptor cache (format: ./lib/lfw-cache.ts), with the
 * engine's `standard` pipeline or `--pipeline dlib-ensemble`. Resumable; split across processes
 * with `--shard k/n` (each process appends to its own file). `bench:identify` runs this itself
 * when the cache is incomplete.
 *
 *   npx tsx scripts/lfw-describe.ts [--lfw DIR] [--cache DIR] [--shard 0/2] [--pipeline standard]
 */
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { loadEngine } from '../src/recognition/engine.js';
import type { RecognitionPipeline } from '../src/recognition/types.js';
import { lfwDirOrExit } from './lib/lfw.js';
import { fillShard, readCache } from './lib/lfw-cache.js';

const opts = new Command()
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--cache <dir>', 'descriptor cache folder', path.join(os.tmpdir(), 'facefleet-lfw-cache'))
  .option('--shard <k/n>', 'describe images i with i % n === k', '0/1')
  .option('--pipeline <name>', 'standard | dlib-ensemble', 'standard')
  .parse()
  .opts<{ lfw: string; cache: string; shard: string; pipeline: RecognitionPipeline }>();
const lfwRoot = lfwDirOrExit(opts.lfw);
const [k, n] = opts.shard.split('/').map(Number);
if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && k < n)) throw new Error('--shard is k/n with 0 <= k < n');

const engine = await loadEngine({ pipeline: opts.pipeline, log: createLogger({ level: 'warn', name: 'lfw-describe' }) });
const have = new Set((await readCache(opts.cache, opts.pipeline)).keys());
const t0 = performance.now();
const done = await fillShard({
  lfw: lfwRoot, dir: opts.cache, pipeline: opts.pipeline, k, n, analyze: (b) => engine.analyze(b), have,
  progress: (i, total) => {
    if (i % 50 === 0 || i === total) process.stderr.write(`shard ${k}/${n}: ${i}/${total}, ${(i / ((performance.now() - t0) / 1000)).toFixed(1)} images/s\n`);
  },
});
await engine.close();
process.stdout.write(`shard ${k}/${n}: described ${done} images in ${((performance.now() - t0) / 1000).toFixed(0)} s (backend ${engine.backend})\n`);
