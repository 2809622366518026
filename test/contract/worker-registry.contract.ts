import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerHeartbeat, WorkerRegistry } from '../../src/store/ports.js';

export interface WorkerRegistryHarness {
  registry: WorkerRegistry;
  cleanup(): Promise<void>;
}

function aBeat(workerId: string, overrides: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return { workerId, instanceId: 'local-1', busy: false, at: new Date().toISOString(), jobsDone: 0, ...overrides };
}

/** The WorkerRegistry contract. `make` gives a fresh, empty registry. */
export function workerRegistryContract(name: string, make: () => Promise<WorkerRegistryHarness>): void {
  describe(`WorkerRegistry contract: ${name}`, () => {
    let h: WorkerRegistryHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.registry.close();
      await h.cleanup();
    });

    it('starts empty and lists the latest heartbeat of each worker', async () => {
      expect(await h.registry.list()).toEqual([]);
      await h.registry.heartbeat(aBeat('w1'));
      await h.registry.heartbeat(aBeat('w2'));
      const busy = aBeat('w1', { busy: true, jobId: 'job-9', jobsDone: 4, meanJobSeconds: 1.5 });
      await h.registry.heartbeat(busy);
      const listed = await h.registry.list();
      expect(listed.map((b) => b.workerId).sort()).toEqual(['w1', 'w2']);
      expect(listed.find((b) => b.workerId === 'w1')).toEqual(busy);
    });

    it('drops the optional fields a later heartbeat leaves out', async () => {
      await h.registry.heartbeat(aBeat('w1', { busy: true, jobId: 'job-1', jobsDone: 1, meanJobSeconds: 0.5 }));
      const idle = aBeat('w1', { jobsDone: 2 });
      delete idle.instanceId;
      await h.registry.heartbeat(idle);
      expect(await h.registry.list()).toEqual([idle]);
    });

    it('reports a retire request in the heartbeat reply, until the worker is removed', async () => {
      expect(await h.registry.heartbeat(aBeat('w1'))).toEqual({ retire: false });
      await h.registry.heartbeat(aBeat('w2'));
      await h.registry.retire('w1', new Date().toISOString());
      expect(await h.registry.heartbeat(aBeat('w1', { busy: true, jobId: 'j' }))).toEqual({ retire: true });
      // It stays asked on every later beat, and the other worker is not affected.
      expect(await h.registry.heartbeat(aBeat('w1'))).toEqual({ retire: true });
      expect(await h.registry.heartbeat(aBeat('w2'))).toEqual({ retire: false });
      // The listing is unchanged by the request.
      expect((await h.registry.list()).map((b) => b.workerId)).toEqual(['w1', 'w2']);
      // A worker that comes back under the same id after removal starts afresh.
      await h.registry.remove('w1');
      expect(await h.registry.heartbeat(aBeat('w1'))).toEqual({ retire: false });
    });

    it('ignores a retire request for a worker that is not registered', async () => {
      await h.registry.retire('ghost', new Date().toISOString());
      expect(await h.registry.list()).toEqual([]);
      expect(await h.registry.heartbeat(aBeat('ghost'))).toEqual({ retire: false });
    });

    it('removes a worker; removing an absent one succeeds', async () => {
      await h.registry.heartbeat(aBeat('w1'));
      await h.registry.remove('w1');
      expect(await h.registry.list()).toEqual([]);
      await expect(h.registry.remove('w1')).resolves.toBeUndefined();
    });
  });
}
