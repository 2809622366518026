/**
 * One image must not break a worker (issue 14, defect 1): the 49 MP flat PNG that aborted the
 * wasm engine, then an ordinary photo, through real `facefleet web` and `facefleet worker`
 * processes. Both jobs end correctly, on the same worker process.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { faultScope, linesAbout, submit } from '../helpers/faults.js';
import { dataDir } from '../helpers/images.js';
import { eventually } from '../helpers/stack.js';

describe('a poison image', () => {
  it('the 49 MP PNG is done (no face), and the next ordinary image is done on the same worker', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    const [web, worker] = await Promise.all([scope.web(dir), scope.worker(dir, 'w-poison', { FACEFLEET_VISIBILITY: '30' })]);
    const huge = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
    const amy = await sharp(dataDir('bbt', 'amy', 'amy1.png')).toBuffer();

    const first = await submit(web.url, huge, '49mp.png');
    expect(first.status).toBe(202);
    const second = await submit(web.url, amy, 'amy1.png');
    expect(second.status).toBe(202);

    const a = await scope.waitForJob(dir, first.json.id!, (j) => j.state === 'done' || j.state === 'dead-lettered', 150_000);
    expect(a).toMatchObject({ state: 'done', attempts: 1 });
    expect(a.result?.faces).toEqual([]);
    const b = await scope.waitForJob(dir, second.json.id!, (j) => j.state === 'done' || j.state === 'dead-lettered', 60_000);
    expect(b).toMatchObject({ state: 'done', attempts: 1 });
    expect(b.result?.faces).toHaveLength(1);
    // The record is done a moment before the worker logs it, so wait for the worker's own word.
    const logged = await eventually(async () => {
      const ids = linesAbout([worker], 'job done').map((l) => l.jobId);
      return ids.length >= 2 ? ids : undefined;
    }, 10_000, 'the worker logging both jobs done');
    expect(logged).toEqual([first.json.id, second.json.id]);
    expect(worker.proc.exitCode).toBeNull();
  }, 300_000);
});
