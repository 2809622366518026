/**
 * Live autoscaling on the local fleet: `facefleet up` starts with zero workers, a burst of
 * 100 jobs brings the fleet to its maximum, every job completes, and the fleet is back to
 * zero shortly after the last job.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCse546 } from '../helpers/cse546.js';
import { eventually, startUp, type Stack } from '../helpers/stack.js';

const MAX = 2;
const IDLE_SECONDS = 3;
const INTERVAL_SECONDS = 1;

async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} missing from /metrics`);
  return Number(m[1]);
}

async function scalerState(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^facefleet_scaler_state\{state="([^"]+)"\} 1$/m.exec(text);
  return m?.[1] ?? 'unknown';
}

describe('autoscaling the local fleet (facefleet up, real workers)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startUp({
      // Scale to zero is what this test shows; `up` alone keeps one worker warm.
      args: ['--min-workers', '0', '--max-workers', String(MAX), '--idle-seconds', String(IDLE_SECONDS), '--interval', String(INTERVAL_SECONDS)],
      env: { FACEFLEET_RATE_LIMIT: '0' },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    if (stack) await fs.rm(stack.dataDir, { recursive: true, force: true });
  });

  it('starts with zero workers, scales to the max on a burst of 100, and back to zero when idle', async () => {
    // Let the controller tick a few times with nothing to do.
    await new Promise((r) => setTimeout(r, 2.5 * INTERVAL_SECONDS * 1000));
    expect(await gauge(stack.url, 'facefleet_fleet_running')).toBe(0);
    expect(await gauge(stack.url, 'facefleet_fleet_desired')).toBe(0);
    expect(await scalerState(stack.url)).toBe('idle');

    const images = (await loadCse546()).slice(0, 100);
    const ids: string[] = [];
    await Promise.all(
      images.map(async (img) => {
        const form = new FormData();
        form.append('image', new Blob([img.buffer], { type: 'image/jpeg' }), img.file);
        const res = await fetch(`${stack.url}/v1/jobs`, { method: 'POST', body: form });
        expect(res.status).toBe(202);
        ids.push(((await res.json()) as { id: string }).id);
      }),
    );
    expect(ids).toHaveLength(100);

    let peak = 0;
    let sawScalingState = false;
    const done = new Set<string>();
    let lastDoneAt = 0;
    await eventually(
      async () => {
        peak = Math.max(peak, await gauge(stack.url, 'facefleet_fleet_running'));
        expect(peak).toBeLessThanOrEqual(MAX);
        if ((await scalerState(stack.url)) !== 'idle') sawScalingState = true;
        for (const id of ids) {
          if (done.has(id)) continue;
          const job = (await (await fetch(`${stack.url}/v1/jobs/${id}`)).json()) as { state: string };
          if (job.state === 'done') {
            done.add(id);
            lastDoneAt = Date.now();
          } else break; // jobs finish roughly in order; check the rest next round
        }
        return done.size === ids.length;
      },
      400_000,
      'all 100 jobs done',
    );
    expect(peak).toBe(MAX);
    expect(sawScalingState).toBe(true);

    // Back to zero within idle-seconds plus one interval after the last job; the slack covers
    // the poll that noticed the last job and the SIGTERM'd workers' exit.
    await eventually(async () => (await gauge(stack.url, 'facefleet_fleet_running')) === 0, 60_000, 'fleet back to zero');
    const zeroAfterMs = Date.now() - lastDoneAt;
    expect(zeroAfterMs).toBeLessThan((IDLE_SECONDS + INTERVAL_SECONDS) * 1000 + 6_000);
    expect(await gauge(stack.url, 'facefleet_fleet_desired')).toBe(0);
  }, 600_000);
});
