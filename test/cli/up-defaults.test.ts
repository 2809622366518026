import { describe, expect, it } from 'vitest';
import { upConfig } from '../../src/cli/process-commands.js';

describe('facefleet up defaults', () => {
  it('keeps one worker warm on the local backend, so the first request does not wait for a boot', () => {
    expect(upConfig({}).fleet.minWorkers).toBe(1);
  });

  it('keeps the floor at zero on AWS, where an idle instance costs money', () => {
    expect(upConfig({ backend: 'aws' }).fleet.minWorkers).toBe(0);
  });

  it('lets --min-workers and --workers override the floor', () => {
    expect(upConfig({ minWorkers: 0 }).fleet.minWorkers).toBe(0);
    const fixed = upConfig({ workers: 3 }).fleet;
    expect([fixed.minWorkers, fixed.maxWorkers]).toEqual([3, 3]);
  });
});
