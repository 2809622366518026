import type { Fleet, Instance, LaunchOptions } from '../../src/controller/fleet.js';
import { FacefleetError } from '../../src/errors.js';

/**
 * An in-memory Fleet test double: launches become pending instances the test boots, crashes
 * or fails on demand. It records every call so tests can tell a held fleet from a busy one.
 */
export class MemoryFleet implements Fleet {
  instances: Instance[] = [];
  calls: string[] = [];
  /** When set, every call throws it. */
  failWith?: FacefleetError;
  /** At most this many instances per launch call (simulates partial capacity). */
  launchLimit = Infinity;
  private seq = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  private check(name: string): void {
    this.calls.push(name);
    if (this.failWith) throw this.failWith;
  }

  async list(): Promise<Instance[]> {
    this.check('list');
    return this.instances.map((i) => ({ ...i }));
  }

  async launch(count: number, options?: LaunchOptions): Promise<Instance[]> {
    this.check(`launch:${count}${options?.retire ? `:retire=${options.retire}` : ''}`);
    const started: Instance[] = [];
    for (let k = 0; k < Math.min(count, this.launchLimit); k++) {
      const id = `m-${++this.seq}`;
      const instance: Instance = { id, state: 'pending', launchedAt: new Date(this.clock()).toISOString(), workerId: id };
      this.instances.push(instance);
      started.push({ ...instance });
    }
    return started;
  }

  async stop(ids: string[]): Promise<void> {
    this.check(`stop:${ids.join(',')}`);
    this.instances = this.instances.filter((i) => !ids.includes(i.id));
  }

  /** Recorded only: a retired instance stays until the test makes it exit (crash()). */
  async retire(ids: string[]): Promise<void> {
    this.check(`retire:${ids.join(',')}`);
  }

  async close(): Promise<void> {
    this.instances = [];
  }

  boot(): void {
    for (const i of this.instances) i.state = 'running';
  }

  crash(id: string): void {
    this.instances = this.instances.filter((i) => i.id !== id);
  }

  launches(): number {
    return this.calls.filter((c) => c.startsWith('launch:')).length;
  }
}
