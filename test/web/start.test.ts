import { describe, expect, it } from 'vitest';
import { WebStartError } from '../../src/web/errors.js';
import { startHarness } from './harness.js';

describe('web start', () => {
  it('says which port is busy and how to pick another', async () => {
    const first = await startHarness();
    const second = await startHarness({ noStart: true });
    try {
      const port = Number(new URL(first.url).port);
      const started = second.web.start('127.0.0.1', port);
      await expect(started).rejects.toBeInstanceOf(WebStartError);
      await expect(started).rejects.toThrow(`port ${port} is in use; pick another with --port`);
    } finally {
      await second.close();
      await first.close();
    }
  });
});
