/**
 * Describe every LFW image once into the descriptor cache (format: ./lib/lfw-cache.ts), with the
 * engine's `standard` pipeline or `--pipeline dlib-ensemble`. Resumable; split across processes
 * with `--shard k/n` (each process appends to its own file). `bench:identify` runs this itself
 * when the cache is incomplete.
 *
 * The backend is the library's default, wasm, unless `--engine-backend` says otherwise; the cache
 * file names do not record it, so keep one backend per cache folder.
 *
 *   npx tsx scripts/lfw-describe.ts [--lfw DIR] [--cache DIR] [--shard 0/2] [--pipeline standard]
 *       [--engine-backend wasm|ort|auto] [--view2]
 */
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../src/log.js';
import { loadEngine } from '../src/recognition/engine.js';
import type { EngineBackendChoice } from '../src/recognition/ort/engine-backend.js';
import type { RecognitionPipeline } from '../src/recognition/types.js';
import { lfwDirOrExit } from './lib/lfw.js';
import { fillShard, readCache, view2Images } from './lib/lfw-cache.js';

const opts = new Command()
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--cache <dir>', 'descriptor cache folder', path.join(os.tmpdir(), 'facefleet-lfw-cache'))
  .option('--shard <k/n>', 'describe images i with i % n === k', '0/1')
  .option('--pipeline <name>', 'standard | dlib-ensemble', 'standard')
  .option('--engine-backend <b>', 'ort | wasm | auto (keep one backend per cache folder)', 'wasm')
  .option('--view2', "only the 7,701 images of LFW View 2's pairs")
  .parse()
  .opts<{ lfw: string; cache: string; shard: string; pipeline: RecognitionPipeline; engineBackend: EngineBackendChoice; view2?: boolean }>();
const lfwRoot = lfwDirOrExit(opts.lfw);
const [k, n] = opts.shard.split('/').map(Number);
if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && k < n)) throw new Error('--shard is k/n with 0 <= k < n');

const engine = await loadEngine({ pipeline: opts.pipeline, engineBackend: opts.engineBackend, log: createLogger({ level: 'warn', name: 'lfw-describe' }) });
const have = new Set((await readCache(opts.cache, opts.pipeline)).keys());
const t0 = performance.now();
const done = await fillShard({
  lfw: lfwRoot, dir: opts.cache, pipeline: opts.pipeline, k, n, analyze: (b) => engine.analyze(b), have,
  only: opts.view2 ? await view2Images(lfwRoot) : undefined,
  progress: (i, total) => {
    if (i % 50 === 0 || i === total) process.stderr.write(`shard ${k}/${n}: ${i}/${total}, ${(i / ((performance.now() - t0) / 1000)).toFixed(1)} images/s\n`);
  },
});
await engine.close();
process.stdout.write(`shard ${k}/${n}: described ${done} images in ${((performance.now() - t0) / 1000).toFixed(0)} s (backend ${engine.backend})\n`);
