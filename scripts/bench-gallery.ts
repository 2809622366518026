/**
 * `npm run bench:gallery -- [--faces N[,N...]] [--identities I] [--queries Q] [--real] [--cache DIR] [--json]`
 *
 * For each size: writes N faces into one collection of a fresh SQLite data dir (setup, not
 * timed), then measures what a worker pays:
 * - loadSeconds: the worker's first use of the collection (version, listFaces, index build);
 * - matchP50Ms / matchP99Ms: one query face against the index, on this one thread;
 * - rssMB: the process's resident set after the load;
 * - visibleAfterMs: another process enrolls a face; time until this process's index matches it
 *   (the cache's 250 ms check interval included);
 * - agreement: share of queries whose top-5 identities equal a naive brute-force search's.
 * Descriptors are synthetic (a centre per identity plus noise) unless `--real`, which uses the
 * cached LFW descriptors (`lfw-standard-descriptors.*.jsonl` under `--cache`, default
 * <os tmp>/facefleet-lfw-cache, which `bench:identify` fills) as the gallery and as queries. The last line of output is `{rows:[...]}`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { seededRandom as rng } from '../src/random.js';
import { openLocalStores } from '../src/store/local/index.js';
import { acquireDatabase } from '../src/store/local/sqlite.js';
import { descriptorToBlob } from '../src/store/local/gallery.js';
import { createGalleryCache } from '../src/worker/gallery-cache.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const sizes = (value('--faces') ?? '10000,100000').split(',').map(Number);
const queries = Number(value('--queries') ?? 200);
const real = flag('--real');
// The same default as bench:identify, which fills the cache.
const cacheDir = value('--cache') ?? path.join(os.tmpdir(), 'facefleet-lfw-cache');

function realDescriptors(): { identity: string; descriptor: Float32Array }[] {
  const files = fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((f) => /^lfw-standard-descriptors\.shard-\d+-of-\d+\.jsonl$/.test(f)) : [];
  if (files.length === 0) throw new Error(`--real: no lfw-standard-descriptors.*.jsonl under ${cacheDir}`);
  const out: { identity: string; descriptor: Float32Array }[] = [];
  for (const f of files) {
    for (const line of fs.readFileSync(path.join(cacheDir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as { person: string; faces?: { descriptor: string }[] };
      const d = row.faces?.[0]?.descriptor;
      if (d) out.push({ identity: row.person, descriptor: new Float32Array(new Uint8Array(Buffer.from(d, 'base64')).buffer) });
    }
  }
  return out;
}

function synthetic(n: number, identities: number): { identity: string; descriptor: Float32Array }[] {
  const r = rng(1);
  const centres = Array.from({ length: identities }, () => Float32Array.from({ length: 128 }, () => (r() - 0.5) * 0.2));
  return Array.from({ length: n }, (_, i) => ({ identity: `id-${i % identities}`, descriptor: Float32Array.from(centres[i % identities]!, (v) => v + (r() - 0.5) * 0.05) }));
}

function bruteTop(faces: { identity: string; descriptor: Float32Array }[], q: Float32Array, k: number): string[] {
  const best = new Map<string, number>();
  for (const f of faces) {
    let s = 0;
    for (let i = 0; i < 128; i++) s += (q[i]! - f.descriptor[i]!) ** 2;
    if (s < (best.get(f.identity) ?? Infinity)) best.set(f.identity, s);
  }
  return [...best].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, k).map(([n]) => n);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function measure(n: number): Promise<Record<string, number>> {
  const faces = real ? realDescriptors().slice(0, n) : synthetic(n, Number(value('--identities') ?? Math.max(1, Math.round(n / 5))));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-gallery-'));
  try {
    const stores = openLocalStores({ dataDir: dir });
    await stores.gallery.createCollection('bench');
    // Setup, not measured: one transaction of plain inserts (and their change rows).
    const lease = acquireDatabase(dir);
    const insertI = lease.db.prepare("INSERT OR IGNORE INTO collection_identities (collection, name, created_at) VALUES ('bench', ?, ?)");
    const insertF = lease.db.prepare("INSERT INTO collection_faces (id, collection, identity, descriptor, pipeline, created_at) VALUES (?, 'bench', ?, ?, 'standard', ?)");
    const at = new Date().toISOString();
    lease.db.transaction(() => faces.forEach((f, i) => (insertI.run(f.identity, at), insertF.run(`f${i}`, f.identity, descriptorToBlob(f.descriptor), at))))();
    lease.release();

    const cache = createGalleryCache(stores.gallery, { checkIntervalMs: 250 });
    const t0 = performance.now();
    const index = await cache.get('bench');
    const loadSeconds = (performance.now() - t0) / 1000;
    const rssMB = process.memoryUsage().rss / 2 ** 20;

    const r = rng(7);
    const probes = Array.from({ length: queries }, () => Float32Array.from(faces[Math.floor(r() * faces.length)]!.descriptor, (v) => v + (r() - 0.5) * 0.04));
    for (const q of probes.slice(0, 10)) index.match(q);
    const times = probes.map((q) => {
      const s = performance.now();
      index.match(q, { topK: 5 });
      return performance.now() - s;
    });
    const checked = probes.slice(0, Math.min(probes.length, n >= 500_000 ? 10 : 50));
    const agree = checked.filter((q) => JSON.stringify(index.match(q, { topK: 5 }).candidates.map((c) => c.identity)) === JSON.stringify(bruteTop(faces, q, 5))).length;

    const child = promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/lib/gallery-enroll-child.ts', dir, 'bench', 'newcomer']);
    const { stdout } = await child;
    const committedAt = Number(stdout.trim());
    const marker = Float32Array.from({ length: 128 }, () => 0.9);
    let visibleAt = 0;
    while (!visibleAt) {
      const now = await cache.get('bench');
      if (now.match(marker, { topK: 1 }).candidates[0]?.identity === 'newcomer') visibleAt = Date.now();
      else await new Promise((res) => setTimeout(res, 10));
    }
    const fullLoads = cache.stats().fullLoads;
    await stores.close();
    return {
      faces: faces.length,
      identities: new Set(faces.map((f) => f.identity)).size,
      loadSeconds: +loadSeconds.toFixed(3),
      matchP50Ms: +pct(times, 50).toFixed(3),
      matchP99Ms: +pct(times, 99).toFixed(3),
      rssMB: Math.round(rssMB),
      visibleAfterMs: visibleAt - committedAt,
      agreement: agree / checked.length,
      fullLoads,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Record<string, number>[] = [];
for (const n of sizes) {
  const row = await measure(n);
  rows.push(row);
  if (!flag('--json')) process.stdout.write(`${JSON.stringify(row)}\n`);
}
process.stdout.write(`${JSON.stringify({ rows, queries, real, node: process.version, cpus: os.cpus().length })}\n`);
