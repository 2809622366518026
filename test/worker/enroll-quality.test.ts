/**
 * Quality gates in the worker: an enroll job whose face scores under its minEnrollQuality ends
 * `done` with a refusal naming the measure to blame (unless forced); a recognize job leaves a
 * face under its minQuality unmatched as `low-quality`, not `unknown`. Results show 5 landmarks,
 * or 68 when asked.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { JobOptions } from '../../src/jobs/types.js';
import { jobView } from '../../src/jobs/view.js';
import { silentLogger } from '../../src/log.js';
import type { FaceQuality } from '../../src/recognition/quality.js';
import type { AnalyzedImage, DetectedFace, Engine } from '../../src/recognition/types.js';
import { createWorker } from '../../src/worker/worker.js';
import { eventually } from '../helpers/stack.js';
import { workerScope } from '../helpers/worker-scope.js';

const landmarks = Array.from({ length: 68 }, (_, i) => ({ x: 10 + i, y: 20 + i / 2 }));
const QUALITY: Record<string, FaceQuality> = {
  good: { sharpness: 0.6, brightness: 0.5, size: 90, score: 0.95 },
  blurry: { sharpness: 0.22, brightness: 0.5, size: 90, score: 0.07 },
  dark: { sharpness: 0.6, brightness: 0.1, size: 90, score: 0.12 },
  small: { sharpness: 0.6, brightness: 0.5, size: 18, score: 0.06 },
};

/** The image's bytes name the face's quality. */
const engine: Engine = {
  backend: 'test',
  detector: 'test',
  async analyze(image: Buffer): Promise<AnalyzedImage> {
    const face: DetectedFace = { box: { x: 0, y: 0, width: 60, height: 60 }, score: 0.9, descriptor: new Float32Array(128).fill(0.1), landmarks, pose: { yaw: 2, pitch: 5, roll: 0 }, quality: QUALITY[image.toString()] };
    return { width: 64, height: 64, faces: [face] };
  },
  async close() {},
};

describe('quality gates in the worker', () => {
  const scope = workerScope({ retryBaseSeconds: 30 });

  async function submit(id: string, kind: 'enroll' | 'recognize', quality: string, options: Partial<JobOptions>): Promise<void> {
    const key = `inputs/${id}`;
    await scope.stores.blobs.put(key, Buffer.from(quality));
    await scope.runner.create({ id, kind, input: { key, contentType: 'image/jpeg', bytes: 1 }, options: { topK: 3, threshold: 0.6, ...options }, maxAttempts: 3 });
    await scope.runner.dispatch(id, { type: 'ENQUEUE' });
  }

  it('refuses poor enrollment faces with their reason, enrolls forced and good ones, and leaves poor faces unmatched', async () => {
    const { dir, stores } = scope;
    scope.worker = createWorker({ config: loadConfig({ dataDir: dir, queueWait: 1, workerId: 'w-quality' }, {}), log: silentLogger(), engine, runner: scope.runner, ...stores });
    void scope.worker.run();
    const gate = { identity: 'Penny', minEnrollQuality: 0.4 };
    await submit('blurry', 'enroll', 'blurry', gate);
    await submit('dark', 'enroll', 'dark', gate);
    await submit('small', 'enroll', 'small', gate);
    await submit('forced', 'enroll', 'blurry', { ...gate, force: true });
    await submit('good', 'enroll', 'good', { ...gate, landmarks: 68 });
    const ids = ['blurry', 'dark', 'small', 'forced', 'good'];
    for (const id of ids) await eventually(async () => (await stores.jobs.get(id))?.state === 'done', 10_000, `${id} done`);
    const result = async (id: string) => jobView((await stores.jobs.get(id))!).result!;
    expect((await result('blurry')).refused).toMatchObject({ reason: 'too-blurry', faces: 1, quality: QUALITY.blurry, minEnrollQuality: 0.4 });
    expect((await result('blurry')).refused?.message).toMatch(/force=true/);
    expect((await result('dark')).refused).toMatchObject({ reason: 'too-dark' });
    expect((await result('small')).refused).toMatchObject({ reason: 'too-small' });
    expect((await result('forced')).enrolled?.identity).toBe('Penny');
    const good = await result('good');
    expect(good.enrolled?.identity).toBe('Penny');
    expect(good.faces[0].landmarks).toHaveLength(68);
    expect(good.faces[0]).toMatchObject({ quality: QUALITY.good, pose: { yaw: 2, pitch: 5, roll: 0 } });
    // Two faces enrolled (forced and good), none from the refused jobs; nothing dead-lettered.
    expect((await stores.gallery.listFaces()).length).toBe(2);
    expect(await stores.queue.deadLetterDepth()).toBe(0);

    // Recognition: the same person, blurred, is low-quality (not unknown) under minQuality; above it, named.
    await submit('r-blurry', 'recognize', 'blurry', { minQuality: 0.2 });
    await submit('r-good', 'recognize', 'good', { minQuality: 0.2 });
    await submit('r-ungated', 'recognize', 'blurry', {});
    for (const id of ['r-blurry', 'r-good', 'r-ungated']) await eventually(async () => (await stores.jobs.get(id))?.state === 'done', 10_000, `${id} done`);
    const [blurred] = (await result('r-blurry')).faces;
    expect(blurred).toMatchObject({ match: null, reason: 'low-quality', quality: QUALITY.blurry });
    expect(blurred.candidates[0]?.identity).toBe('Penny');
    expect(blurred.landmarks).toHaveLength(5);
    expect(blurred.landmarks![0]).toEqual({ x: 48.5, y: 39.3 });
    expect((await result('r-good')).faces[0].match?.identity).toBe('Penny');
    expect((await result('r-ungated')).faces[0].match?.identity).toBe('Penny');
  });
});
