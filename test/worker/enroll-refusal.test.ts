/**
 * An enroll job whose image has no face, or several, ends `done` with a refusal result: the
 * image is the client's answer, not a failure. Nothing is enrolled and nothing is dead-lettered.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { jobView } from '../../src/jobs/view.js';
import { silentLogger } from '../../src/log.js';
import type { AnalyzedImage, Engine } from '../../src/recognition/types.js';
import { createWorker } from '../../src/worker/worker.js';
import { eventually } from '../helpers/stack.js';
import { workerScope } from '../helpers/worker-scope.js';

const face = (x: number) => ({ box: { x, y: 0, width: 20, height: 20 }, score: 0.9, descriptor: new Float32Array(128).fill(x / 100) });

/** The image's bytes say how many faces it holds. */
const engine: Engine = {
  backend: 'test',
  detector: 'test',
  async analyze(image: Buffer): Promise<AnalyzedImage> {
    const n = Number(image.toString());
    return { width: 64, height: 64, faces: Array.from({ length: n }, (_, i) => face(i * 20)) };
  },
  async close() {},
};

describe('refused enrollments', () => {
  const scope = workerScope({ retryBaseSeconds: 30 });

  async function enroll(id: string, faces: number): Promise<void> {
    const key = `inputs/${id}`;
    const { stores, runner } = scope;
    await stores.blobs.put(key, Buffer.from(String(faces)));
    await runner.create({ id, kind: 'enroll', input: { key, contentType: 'image/jpeg', bytes: 1 }, options: { topK: 3, threshold: 0.6, identity: 'Penny' }, maxAttempts: 3 });
    await runner.dispatch(id, { type: 'ENQUEUE' });
  }

  it('end done with the reason and the face count; the dead-letter queue stays empty', async () => {
    const { dir, stores, runner } = scope;
    scope.worker = createWorker({ config: loadConfig({ dataDir: dir, queueWait: 1, workerId: 'w-refuse' }, {}), log: silentLogger(), engine, runner, ...stores });
    void scope.worker.run();
    await enroll('none', 0);
    await enroll('group', 3);
    await enroll('one', 1);
    for (const id of ['none', 'group', 'one']) await eventually(async () => (await stores.jobs.get(id))?.state === 'done', 10_000, `${id} done`);
    const none = jobView((await stores.jobs.get('none'))!);
    const group = jobView((await stores.jobs.get('group'))!);
    expect(none.result?.refused).toMatchObject({ reason: 'no-face', faces: 0 });
    expect(group.result?.refused).toMatchObject({ reason: 'several-faces', faces: 3 });
    expect(none.result?.enrolled).toBeUndefined();
    expect(jobView((await stores.jobs.get('one'))!).result?.enrolled?.identity).toBe('Penny');
    expect((await stores.gallery.listFaces()).length).toBe(1);
    expect(await stores.queue.deadLetterDepth()).toBe(0);
  });
});
