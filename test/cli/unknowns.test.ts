/** `facefleet unknowns ...` run in this process on a temp data dir (no model needed). */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { openLocalStores } from '../../src/store/local/index.js';
import { aCluster } from '../helpers/builders.js';
import { near } from '../helpers/unknowns.js';

let dir: string;
const ids = { a: 'unk_aaaaaaaaaaaaaaaaaaaa', b: 'unk_bbbbbbbbbbbbbbbbbbbb', c: 'unk_cccccccccccccccccccc' };

async function facefleet(...args: string[]): Promise<string> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    await runCli(['node', 'facefleet', ...args, '--data-dir', dir, '--collection', 'cam', '--log-level', 'silent']);
  } finally {
    write.mockRestore();
  }
  return out;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-cli-unknowns-'));
  const stores = openLocalStores({ dataDir: dir });
  await stores.gallery.createCollection('cam', { trackUnknowns: true });
  const rep = (id: string, d: Float32Array) => [{ id, descriptor: d, jobId: `job-${id}`, at: '2026-01-01T00:00:00.000Z' }];
  await stores.gallery.unknowns('cam').create(aCluster(1, { id: ids.a, sightings: 3, representatives: rep('ra', near(3, 0, 0)) }));
  await stores.gallery.unknowns('cam').create(aCluster(2, { id: ids.b, representatives: rep('rb', near(3, 1, 0.2)) }));
  await stores.gallery.unknowns('cam').create(aCluster(3, { id: ids.c, representatives: rep('rc', near(4, 0, 0)) }));
  await stores.close();
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('facefleet unknowns', () => {
  it('lists, shows, merges, names and forgets clusters', async () => {
    const listed = JSON.parse(await facefleet('unknowns', 'list', '--json'));
    expect(listed.map((c: { id: string }) => c.id)).toEqual([ids.a, ids.b, ids.c]);
    expect(JSON.stringify(listed)).not.toContain('descriptor');
    expect(await facefleet('unknowns', 'list', '--min-sightings', '2')).toContain(ids.a);
    expect(await facefleet('unknowns', 'show', ids.a)).toMatch(/3 sightings[\s\S]*job job-1/);
    expect(await facefleet('unknowns', 'merge', ids.b, ids.a)).toContain(`${ids.a}\t4 sightings`);
    // The merged-away id, as a job result keeps it, shows the cluster it went into.
    expect(await facefleet('unknowns', 'show', ids.b)).toMatch(new RegExp(`^${ids.b} was merged into ${ids.a}\n${ids.a}\t4 sightings`));
    expect(await facefleet('unknowns', 'name', ids.a, 'Ann', '--create')).toContain(`${ids.a} is now Ann`);
    expect(await facefleet('unknowns', 'forget', ids.c)).toContain(`forgot ${ids.c}`);
    expect(JSON.parse(await facefleet('unknowns', 'list', '--json'))).toEqual([]);
    const stores = openLocalStores({ dataDir: dir });
    try {
      expect((await stores.gallery.in('cam').listFacesOf('Ann')).length).toBe(2);
      expect(await stores.gallery.unknowns('cam').get(ids.b)).toBeNull();
      expect(await stores.gallery.unknowns('cam').get(ids.a)).toMatchObject({ state: 'named', identity: 'Ann' });
    } finally {
      await stores.close();
    }
  });
});
