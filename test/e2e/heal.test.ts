/**
 * Workers that heal (issue 14, defect 5): the stores refuse writes for a while, then work
 * again, and every queued job finishes with no manual restart. Real `facefleet web` and
 * `facefleet controller` processes; the controller's local fleet spawns the workers.
 *
 * The fault is injected (FACEFLEET_FAULTS: every queue receive and job save fails with
 * store-unavailable until a fixed epoch time, in every worker the fleet starts), not made with
 * file permissions: tests may run as root, which ignores them. Workers that start during the
 * fault give up after a bounded number of failures and exit; the fleet replaces them, and one
 * started after the fault ends takes the jobs.
 */
import { describe, expect, it } from 'vitest';
import { loadCse546 } from '../helpers/cse546.js';
import { faultPlan, faultScope, logLines, submit } from '../helpers/faults.js';
import { startProcess, waitForOutput } from '../helpers/stack.js';
import { FAST_ENV } from '../helpers/faults.js';

describe('workers that heal', () => {
  it('stores unwritable for 20 s, then restored: all queued jobs finish, workers replaced by the fleet', async () => {
    const scope = faultScope();
    const dir = await scope.dataDir();
    const web = await scope.web(dir);
    const images = (await loadCse546()).slice(0, 3).map((i) => i.buffer);
    const ids: string[] = [];
    for (const image of images) {
      const res = await submit(web.url, image);
      expect(res.status).toBe(202);
      ids.push(res.json.id!);
    }
    const until = Date.now() + 20_000;
    const plan = faultPlan({ queue: { receive: { until } }, jobs: { save: { until } } });
    const controller = startProcess(['controller', '--data-dir', dir, '--max-workers', '1', '--interval', '1', '--idle-seconds', '600'], {
      ...FAST_ENV,
      FACEFLEET_FAULTS: plan,
    });
    try {
      await waitForOutput(controller, /controller running/, 60_000);
      for (const id of ids) {
        const job = await scope.waitForJob(dir, id, (j) => j.state === 'done' || j.state === 'dead-lettered', 240_000);
        expect(job.state).toBe('done');
      }
      // At least one worker gave up during the fault and was replaced by the fleet.
      const lines = logLines(controller);
      expect(lines.some((l) => l.msg === 'worker exited unexpectedly; the controller will replace it' && l.code === 71)).toBe(true);
    } finally {
      await controller.stop(10_000);
    }
  }, 480_000);
});
