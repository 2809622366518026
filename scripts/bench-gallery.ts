/**
 * `npm run bench:gallery -- [--faces N[,N...]] [--identities I] [--queries Q] [--real] [--cache DIR] [--graph-above N] [--graph usearch|typescript|auto] [--ef N] [--ef-construction N] [--m N] [--data-dir DIR] [--json]`
 *
 * For each size: writes N faces into one collection of a fresh SQLite data dir (setup, not
 * timed), then measures what a worker pays:
 * - loadSeconds: the worker's first use of the collection (version, listFaces, the exact index);
 *   graphSeconds: until the HNSW graph the cache builds in the background (above 10,000 faces)
 *   is complete and answers instead (null when none is built);
 * - matchP50Ms / matchP99Ms: one query face against the worker's index (`match`, top 5), wall
 *   time on this one thread; cpuP50Ms / cpuP99Ms the same in this process's CPU time, which a
 *   busy machine inflates less;
 * - exactP50Ms / exactP99Ms and speedup: the same queries, by the same matcher (the default rule,
 *   template blend included) over an exact scan of the same faces, in the same run, and exact
 *   p50 / index p50;
 * - agreement (rank-1 identity equal to exact search's; also apart for the queries whose identity
 *   is enrolled and for strangers), recallAt5 (share of exact search's top
 *   5 identities in the index's top 5), decisionAgreement (the 1:N rule of decision.ts names
 *   the same identity, or gives the same reason for unknown);
 * - rssMB: the process's resident set after the load; rssBeforeLoadMB: before it, the
 *   benchmark's own (its LFW descriptors and face model, the store), which a worker does not hold;
 * - visibleAfterMs: another process enrolls a face; time until this process's index matches it
 *   (the cache's 250 ms check interval included).
 * Queries: half are new faces of enrolled identities, half faces of identities never enrolled.
 * Descriptors are synthetic, drawn from a Gaussian model fitted to the cached LFW descriptors
 * (./lib/synthetic-faces.ts; `lfw-standard-descriptors.*.jsonl` under `--cache`, default
 * <os tmp>/facefleet-lfw-cache, which `bench:identify` fills). `--real` instead enrolls LFW's
 * images themselves except every 10th, whose images are the queries (13,233 at most).
 * The last line of output is `{rows:[...]}`.
 */
import { execFile } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { galleryIndexOver, type MatchResult } from '../src/recognition/matcher.js';
import { DEFAULT_INDEX_OPTIONS, GalleryIndexKernel, type GraphKind } from '../src/recognition/gallery-index.js';
import type { Candidate } from '../src/recognition/types.js';
import { seededRandom as rng } from '../src/random.js';
import { openLocalStores } from '../src/store/local/index.js';
import { acquireDatabase } from '../src/store/local/sqlite.js';
import { descriptorToBlob } from '../src/store/local/gallery.js';
import { createGalleryCache } from '../src/worker/gallery-cache.js';
import { readCache } from './lib/lfw-cache.js';
import { faceSampler, fitFaceModel } from './lib/synthetic-faces.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const sizes = (value('--faces') ?? '10000,100000,1000000').split(',').map(Number);
const queries = Number(value('--queries') ?? 200);
const real = flag('--real');
// Infinity measures the exact scan alone; the default is the index's own (graph above 10,000 faces).
const graphAbove = value('--graph-above') === undefined ? undefined : Number(value('--graph-above'));
// usearch, typescript, or auto (usearch when it loads).
const graphKind = (value('--graph') ?? 'auto') as GraphKind | 'auto';
// The graph search's beam (default each graph's own, DEFAULT_EF_SEARCH in gallery-index.ts).
const efSearch = value('--ef') === undefined ? undefined : Number(value('--ef'));
// The build's beam (default DEFAULT_HNSW's 64). Resident memory does not depend on it, so a small one measures that at 1M for a fraction of the build's CPU.
const efConstruction = value('--ef-construction') === undefined ? undefined : Number(value('--ef-construction'));
// Links per node in the graph (default DEFAULT_HNSW's); a saved index keeps the links it was built with.
const links = value('--m') === undefined ? undefined : Number(value('--m'));
// The same default as bench:identify, which fills the cache.
const cacheDir = value('--cache') ?? path.join(os.tmpdir(), 'facefleet-lfw-cache');
// A data dir kept between runs (one size only): filled on the first run, its saved index reused after.
const keptDir = value('--data-dir');
if (keptDir && sizes.length !== 1) throw new Error('--data-dir takes one size (--faces N)');
// Queries drawn: a kept dir's first run draws (and keeps) enough for any later --queries up to 2,000.
const drawn = keptDir ? Math.max(queries, 2000) : queries;

const lfw = await readCache(cacheDir, 'standard');
if (lfw.size === 0) throw new Error(`no lfw-standard-descriptors.*.jsonl under ${cacheDir}: run bench:identify first, or pass --cache`);
const people = new Map<string, Float32Array[]>();
for (const c of lfw.values()) if (c.subject !== null) people.set(c.person, [...(people.get(c.person) ?? []), c.faces[c.subject]!.descriptor]);
const model = fitFaceModel(people);
process.stderr.write(`face model fitted on ${people.size} LFW people: typical distance ${model.typicalWithin.toFixed(3)} within an identity, ${model.typicalBetween.toFixed(3)} between\n`);

interface Data {
  /** Calls `put` for every gallery face. */
  gallery(put: (identity: string, d: Float32Array) => void): void;
  probes: Float32Array[];
  /** Per probe: its identity is enrolled. */
  mated: boolean[];
}

function synthetic(n: number, identities: number): Data {
  const s = faceSampler(model, 1);
  const centres = Array.from({ length: identities }, () => s.centre());
  const r = rng(7);
  const probes = Array.from({ length: drawn }, (_, i) => (i % 2 === 0 ? s.face(centres[Math.floor(r() * identities)]!) : s.face(s.centre())));
  const gallery = (put: (identity: string, d: Float32Array) => void) => {
    for (let i = 0; i < n; i++) put(`id-${i % identities}`, s.face(centres[i % identities]!));
  };
  return { gallery, probes, mated: probes.map((_, i) => i % 2 === 0) };
}

function lfwData(n: number): Data {
  const all = [...lfw.values()].filter((c) => c.subject !== null).sort((a, b) => a.image.localeCompare(b.image));
  const held = all.filter((_, i) => i % 10 === 0).slice(0, drawn);
  const enrolled = all.filter((_, i) => i % 10 !== 0).slice(0, n);
  const names = new Set(enrolled.map((c) => c.person));
  return {
    gallery: (put) => enrolled.forEach((c) => put(c.person, c.faces[c.subject!]!.descriptor)),
    probes: held.map((c) => c.faces[c.subject!]!.descriptor),
    mated: held.map((c) => names.has(c.person)),
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => +x.toFixed(3);

function timed<T>(f: () => T): { value: T; wall: number; cpu: number } {
  const c = process.cpuUsage();
  const s = performance.now();
  const value = f();
  const wall = performance.now() - s;
  const u = process.cpuUsage(c);
  return { value, wall, cpu: (u.user + u.system) / 1000 };
}

/** The 1:N rule's answer is the same: the same name, or unknown for the same reason. */
const sameDecision = (a: MatchResult, b: MatchResult) => a.reason === b.reason && a.match?.identity === b.match?.identity;

async function measure(n: number): Promise<Record<string, number | string | null>> {
  const data = real ? lfwData(n) : synthetic(n, Number(value('--identities') ?? Math.max(1, Math.round(n / 5))));
  const dir = keptDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bench-gallery-'));
  fs.mkdirSync(dir, { recursive: true });
  // A kept dir keeps its queries too: drawn again from a model fitted on another state of the
  // LFW cache, the "enrolled" ones would be of identities the dir does not hold.
  const probesFile = path.join(dir, 'bench-probes.json');
  if (keptDir && fs.existsSync(probesFile)) {
    const kept = JSON.parse(fs.readFileSync(probesFile, 'utf8')) as { probes: number[][]; mated: boolean[] };
    data.probes = kept.probes.slice(0, queries).map((p) => Float32Array.from(p));
    data.mated = kept.mated.slice(0, queries);
  } else if (keptDir) fs.writeFileSync(probesFile, JSON.stringify({ probes: data.probes.map((p) => Array.from(p)), mated: data.mated }));
  data.probes = data.probes.slice(0, queries);
  data.mated = data.mated.slice(0, queries);
  try {
    const stores = openLocalStores({ dataDir: dir });
    let faces = 0;
    if (keptDir && (await stores.gallery.findCollection('bench'))) faces = (await stores.gallery.getCollection('bench'))!.faceCount;
    else {
      await stores.gallery.createCollection('bench');
      // Setup, not measured: one transaction of plain inserts (and their change rows).
      const lease = acquireDatabase(dir);
      const insertI = lease.db.prepare("INSERT OR IGNORE INTO collection_identities (collection, name, created_at) VALUES ('bench', ?, ?)");
      const insertF = lease.db.prepare("INSERT INTO collection_faces (id, collection, identity, descriptor, pipeline, created_at) VALUES (?, 'bench', ?, ?, 'standard', ?)");
      const at = new Date().toISOString();
      lease.db.transaction(() => data.gallery((identity, d) => (insertI.run(identity, at), insertF.run(`f${faces++}`, identity, descriptorToBlob(d), at))))();
      lease.release();
    }

    const indexDir = path.join(dir, 'index-cache');
    const cacheOptions = { checkIntervalMs: 250, indexDir, index: { graph: graphKind, ...(graphAbove === undefined ? {} : { graphAbove }), ...(efSearch === undefined ? {} : { efSearch }), ...(efConstruction === undefined && links === undefined ? {} : { hnsw: { ...(efConstruction === undefined ? {} : { efConstruction }), ...(links === undefined ? {} : { m: links }) } }) } };
    const cache = createGalleryCache(stores.gallery, cacheOptions);
    // The benchmark's own memory (its LFW descriptors, the face model, the store), which a worker does not hold.
    const rssBeforeLoadMB = process.memoryUsage().rss / 2 ** 20;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const index = await cache.get('bench');
    const loadSeconds = (performance.now() - t0) / 1000;
    // Above the size for a graph, the cache builds it in the background; until then matching is exact.
    while (faces > (graphAbove ?? DEFAULT_INDEX_OPTIONS.graphAbove) && !index.approximate) await new Promise((res) => setTimeout(res, 50));
    const graphSeconds = (performance.now() - t0) / 1000;
    const cpuUsed = process.cpuUsage(cpu0);
    const graphCpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
    const rssMB = process.memoryUsage().rss / 2 ** 20;
    // A usearch graph is saved once built; a second worker's first use then loads it (file read and checked, feed applied).
    const loadedFrom = cache.stats().indexLoads > 0 ? 'saved index' : 'store';
    for (let i = 0; i < 600 && loadedFrom === 'store' && index.graphKind === 'usearch' && cache.stats().indexSaves === 0; i++) await new Promise((res) => setTimeout(res, 100));
    // The reference, exact at any size, over the same faces.
    const exact = new GalleryIndexKernel(128, undefined, { graphAbove: Infinity });
    await stores.gallery.in('bench').eachFace((f) => exact.add(f));

    // The same matcher (the default rule, its template blend included) over the exact kernel: the
    // index's answers against the answers it would give without a graph.
    const exactIndex = galleryIndexOver(exact);
    const probes = data.probes;
    for (const q of probes.slice(0, 10)) {
      index.match(q);
      exactIndex.match(q);
    }
    // Collections during the timed queries: how much of the tail is the garbage collector.
    let gcMs = 0, gcs = 0;
    const gcWatch = new PerformanceObserver((list) => list.getEntries().forEach((e) => ((gcMs += e.duration), (gcs += 1))));
    gcWatch.observe({ entryTypes: ['gc'] });
    const got = probes.map((q) => timed(() => index.match(q, { topK: 5 })));
    await new Promise((res) => setTimeout(res, 50));
    gcWatch.disconnect();
    const want = probes.map((q) => timed(() => exactIndex.match(q, { topK: 5 })));
    let rank1 = 0, recalled = 0, recallable = 0, decisions = 0, rank1Mated = 0;
    probes.forEach((_, i) => {
      const a = got[i]!.value.candidates, b = want[i]!.value.candidates;
      if (a[0]?.identity === b[0]?.identity) {
        rank1 += 1;
        if (data.mated[i]) rank1Mated += 1;
      }
      const mine = new Set(a.map((c) => c.identity));
      recalled += b.filter((c) => mine.has(c.identity)).length;
      recallable += b.length;
      if (sameDecision(got[i]!.value, want[i]!.value)) decisions += 1;
    });

    // After the timed queries, so that the second index's garbage does not fall in them.
    let savedLoadSeconds: number | null = null;
    let indexMB: number | null = null;
    if (cache.stats().indexSaves > 0 || loadedFrom === 'saved index') {
      indexMB = Math.round(fs.readdirSync(indexDir).reduce((n, f) => n + fs.statSync(path.join(indexDir, f)).size, 0) / 2 ** 20);
      const second = createGalleryCache(stores.gallery, cacheOptions);
      const t1 = performance.now();
      const restored = await second.get('bench');
      savedLoadSeconds = (performance.now() - t1) / 1000;
      if (second.stats().indexLoads !== 1 || !restored.approximate) throw new Error(`the saved index did not load: ${JSON.stringify(second.stats())}`);
      second.forget('bench');
    }


    // A kept data dir holds the newcomers of earlier runs: each run's is its own point.
    const fill = keptDir ? 0.9 + (Date.now() % 1000) / 1e4 : 0.9;
    const newcomer = keptDir ? `newcomer-${fill.toFixed(4)}` : 'newcomer';
    const child = promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/lib/gallery-enroll-child.ts', dir, 'bench', newcomer, String(fill)]);
    const { stdout } = await child;
    const committedAt = Number(stdout.trim());
    const marker = new Float32Array(128).fill(fill);
    let visibleAt = 0;
    while (!visibleAt && Date.now() - committedAt < 30_000) {
      const now = await cache.get('bench');
      if (now.match(marker, { topK: 1 }).candidates[0]?.identity === newcomer) visibleAt = Date.now();
      else await new Promise((res) => setTimeout(res, 10));
    }
    const fullLoads = cache.stats().fullLoads;
    await stores.close();
    const wall = got.map((t) => t.wall), cpu = got.map((t) => t.cpu), exactWall = want.map((t) => t.wall);
    return {
      faces,
      identities: exact.identities,
      loadedFrom,
      loadSeconds: +loadSeconds.toFixed(3),
      graphSeconds: index.approximate ? +graphSeconds.toFixed(1) : null,
      savedLoadSeconds: savedLoadSeconds === null ? null : +savedLoadSeconds.toFixed(3),
      indexMB,
      graphCpuSeconds: index.approximate ? +graphCpuSeconds.toFixed(1) : null,
      graphInsertMs: index.approximate ? +(cache.stats().graphBuildMs / faces).toFixed(4) : null,
      graph: index.graphKind,
      approximate: index.approximate ? 1 : 0,
      matchP50Ms: ms(pct(wall, 50)),
      gcDuringQueriesMs: +gcMs.toFixed(1),
      gcsDuringQueries: gcs,
      matchP99Ms: ms(pct(wall, 99)),
      cpuP50Ms: ms(pct(cpu, 50)),
      cpuP99Ms: ms(pct(cpu, 99)),
      exactP50Ms: ms(pct(exactWall, 50)),
      exactP99Ms: ms(pct(exactWall, 99)),
      speedup: +(pct(exactWall, 50) / pct(wall, 50)).toFixed(1),
      rssMB: Math.round(rssMB),
      rssBeforeLoadMB: Math.round(rssBeforeLoadMB),
      visibleAfterMs: visibleAt ? visibleAt - committedAt : null,
      agreement: rank1 / probes.length,
      agreementMated: rank1Mated / data.mated.filter(Boolean).length,
      agreementStrangers: (rank1 - rank1Mated) / data.mated.filter((m) => !m).length,
      recallAt5: +(recalled / recallable).toFixed(4),
      decisionAgreement: decisions / probes.length,
      fullLoads,
    };
  } finally {
    if (!keptDir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Record<string, number | string | null>[] = [];
for (const n of sizes) {
  const row = await measure(n);
  rows.push(row);
  if (!flag('--json')) process.stdout.write(`${JSON.stringify(row)}\n`);
}
process.stdout.write(`${JSON.stringify({ rows, queries, real, model: real ? 'lfw' : 'lfw-fitted-gaussian', node: process.version, cpus: os.cpus().length })}\n`);
