/** An enroll job stores the face with the pipeline of the worker's engine, so the gallery knows which descriptors it holds. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { AnalyzedImage, Engine, RecognitionPipeline } from '../../src/recognition/types.js';
import { createWorker } from '../../src/worker/worker.js';
import { aDescriptor } from '../helpers/builders.js';
import { eventually } from '../helpers/stack.js';
import { workerScope } from '../helpers/worker-scope.js';

/** One face in every image. `pipeline` undefined is a test double that does not say (standard). */
function oneFaceEngine(pipeline: RecognitionPipeline | undefined): Engine {
  return {
    backend: 'test',
    detector: 'test',
    ...(pipeline ? { pipeline } : {}),
    async analyze(): Promise<AnalyzedImage> {
      return { width: 64, height: 64, faces: [{ box: { x: 0, y: 0, width: 64, height: 64 }, score: 0.9, descriptor: aDescriptor(7) }] };
    },
    async close() {},
  };
}

describe('enroll jobs and pipelines', () => {
  const scope = workerScope({ retryBaseSeconds: 30 });

  it.each([['dlib-ensemble', 'dlib-ensemble'], [undefined, 'standard']] as const)('a worker whose engine runs %s stores %s faces', async (pipeline, stored) => {
    const { dir, stores, runner } = scope;
    scope.worker = createWorker({ config: loadConfig({ dataDir: dir, queueWait: 1, workerId: 'w-enroll' }, {}), log: silentLogger(), engine: oneFaceEngine(pipeline), runner, ...stores });
    void scope.worker.run();
    await stores.blobs.put('inputs/e1', Buffer.from('an image'));
    await runner.create({ id: 'e1', kind: 'enroll', input: { key: 'inputs/e1', contentType: 'image/jpeg', bytes: 8 }, options: { topK: 3, threshold: 0.6, identity: 'ada' }, maxAttempts: 3 });
    await runner.dispatch('e1', { type: 'ENQUEUE' });
    await eventually(async () => (await stores.jobs.get('e1'))?.state === 'done', 10_000, 'enroll job done');
    expect(await stores.gallery.listFaces()).toMatchObject([{ identity: 'ada', source: 'job:e1', pipeline: stored }]);
  });
});
