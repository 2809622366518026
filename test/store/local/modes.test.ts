/** The data dir is created 0700 and every file in it 0600 (issue 14, item 7). */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { openLocalStores } from '../../../src/store/local/index.js';

describe('local store file modes', () => {
  it('directories 0700, database and blob files 0600, whatever the umask lets through', async () => {
    const base = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-modes-'));
    const dataDir = path.join(base, 'data');
    const stores = openLocalStores({ dataDir, log: silentLogger() });
    try {
      await stores.blobs.put('inputs/ab/abcdef', Buffer.from('x'));
      await stores.keys.list();
      const entries = await fs.readdir(dataDir, { recursive: true, withFileTypes: true });
      const modes = await Promise.all(
        [dataDir, ...entries.map((e) => path.join(e.parentPath, e.name))].map(async (p) => [path.relative(base, p), (await fs.stat(p)).mode & 0o777] as const),
      );
      expect(modes.length).toBeGreaterThan(4);
      for (const [p, mode] of modes) {
        const st = await fs.stat(path.join(base, p));
        expect(mode.toString(8), p).toBe(st.isDirectory() ? '700' : '600');
      }
    } finally {
      await stores.close();
      await fs.rm(base, { recursive: true, force: true });
    }
  });
});
