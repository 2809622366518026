/** The controller tells "running" from "reporting" (issue 14, defect 5). */
import { describe, expect, it } from 'vitest';
import type { Instance } from '../../src/controller/fleet.js';
import { silentInstances } from '../../src/controller/silent-workers.js';

const at = Date.parse('2026-01-01T00:10:00Z');
const iso = (secondsAgo: number) => new Date(at - secondsAgo * 1000).toISOString();
const instance = (id: string, launchedSecondsAgo: number, extra: Partial<Instance> = {}): Instance => ({ id, state: 'running', launchedAt: iso(launchedSecondsAgo), workerId: `w-${id}`, ...extra });
const beat = (workerId: string, secondsAgo: number) => ({ workerId, busy: false, at: iso(secondsAgo), jobsDone: 0 });

describe('silentInstances', () => {
  it('names running workers with no heartbeat within the limit, and only those', () => {
    const instances = [
      instance('reporting', 300),
      instance('stale', 300),
      instance('never', 300),
      instance('young', 10),
      instance('booting', 300, { state: 'pending' }),
      instance('stopping', 300, { state: 'stopping' }),
      instance('ec2-beat', 300, { workerId: undefined }),
      instance('ec2-unknown', 300, { workerId: undefined }),
    ];
    const workers = [beat('w-reporting', 5), beat('w-stale', 120), { ...beat('some-host', 3), instanceId: 'ec2-beat' }];
    expect(silentInstances(instances, workers, at, 45_000).map((i) => i.id)).toEqual(['stale', 'never']);
  });
});
