/**
 * `facefleet web --web-processes 2`: two web processes on one port (node:cluster). Real
 * processes; the jobs land in the one data dir, `/metrics` sums the processes (store gauges
 * not doubled), only one process sweeps, and SIGTERM stops them all.
 */
import fs from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { uploadFile, request } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { eventually, startProcess, tempDir, waitForOutput, type StackProcess } from '../helpers/stack.js';

let running: StackProcess | undefined;
let dir: string | undefined;

afterEach(async () => {
  await running?.stop(5_000);
  running = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function metric(text: string, line: RegExp): number {
  const m = text.match(line);
  return m ? Number(m[1]) : Number.NaN;
}

describe('facefleet web --web-processes', () => {
  it('serves from every process on one port, sums /metrics, sweeps once, and stops on SIGTERM', async () => {
    dir = await tempDir('ff-cluster-');
    running = startProcess(['web', '--port', '0', '--data-dir', dir, '--web-processes', '2'], { FACEFLEET_RATE_LIMIT: '0' });
    const m = await waitForOutput(running, /listening on (http:\/\/\S+)\s+\(2 web processes\)/, 120_000);
    const url = m[1]!;
    const lines = () =>
      running!
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    // Log lines are written in chunks (every 250 ms at the latest): wait for both.
    await eventually(async () => lines().filter((l) => l.msg === 'web tier listening').length === 2, 5_000, 'both web processes logged listening');
    const listening = lines().filter((l) => l.msg === 'web tier listening');
    expect(listening.map((l) => l.webProcess).sort()).toEqual([0, 1]);
    expect(listening.filter((l) => l.sweeper === true)).toHaveLength(1);
    expect(new Set(listening.map((l) => l.pid)).size).toBe(2);

    // A new connection per request: the primary hands them out in turn.
    const jpeg = await validJpeg();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await uploadFile(`${url}/v1/jobs`, { data: jpeg }, {}, { connection: 'close' });
      expect(res.status).toBe(202);
      ids.push(res.json.id as string);
    }
    const acceptedBy = () => new Set(lines().filter((l) => l.msg === 'job accepted').map((l) => l.pid));
    await eventually(async () => lines().filter((l) => l.msg === 'job accepted').length === 6, 5_000, 'six job accepted lines');
    expect(acceptedBy().size).toBe(2);
    // Any process answers for any job.
    for (const id of ids) expect((await request(`${url}/v1/jobs/${id}`, { headers: { connection: 'close' } })).json.state).toBe('queued');

    for (let i = 0; i < 2; i++) {
      const res = await request(`${url}/metrics`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      expect(metric(res.text, /^facefleet_jobs_submitted_total\{kind="recognize"\} (\d+)$/m)).toBe(6);
      expect(metric(res.text, /^facefleet_jobs\{state="queued"\} (\d+)$/m)).toBe(6);
      expect(metric(res.text, /^facefleet_queue_depth\{kind="visible"\} (\d+)$/m)).toBe(6);
    }

    running.proc.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  }, 180_000);
});
