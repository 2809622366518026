/**
 * bench:clusters' store pass: faces through the worker's own tracker on a real SQLite collection
 * (no images, so no thumbnails), then the recluster operation over what it made.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { openLocalStores } from '../../src/store/local/index.js';
import { recluster } from '../../src/unknowns/operations.js';
import { trackUnknownFaces } from '../../src/unknowns/tracker.js';
import type { MergeRule } from '../../src/unknowns/rules.js';
import type { SimFace } from './cluster-sim.js';

export async function storeRun(faces: readonly SimFace[], radius: number, mergeRule: MergeRule, margin: number): Promise<{ msPerFace: number; clusters: number; reclusterMs: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-bench-clusters-'));
  const stores = openLocalStores({ dataDir: dir, log: silentLogger() });
  try {
    await stores.gallery.createCollection('bench', { trackUnknowns: true });
    const store = stores.gallery.unknowns('bench');
    const deps = { blobs: stores.blobs, log: silentLogger(), radius, margin, mergeRule };
    const t0 = performance.now();
    for (const [i, f] of faces.entries()) await trackUnknownFaces(deps, { store, jobId: `job-${i}`, pipeline: 'standard' }, [f]);
    const msPerFace = (performance.now() - t0) / Math.max(1, faces.length);
    const r0 = performance.now();
    const { clusters } = await recluster(deps, store, mergeRule);
    return { msPerFace, clusters, reclusterMs: performance.now() - r0 };
  } finally {
    await stores.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
