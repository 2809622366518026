import type { Logger } from '../log.js';
import type { EnrolledFace, Gallery, GalleryChange } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { otherPipelines, readIndex, removeIndex, saveIndex } from './index-file.js';
import { autoGraph, GalleryIndexKernel, type GalleryIndexOptions, type GraphKind } from '../recognition/gallery-index.js';
import { galleryIndexOver, otherPipelineWarning, type GalleryIndex } from '../recognition/matcher.js';
import { toPipeline, type RecognitionPipeline } from '../recognition/types.js';

/** A collection's index as the cache hands it out: the matcher, and the gallery version it reflects. */
export interface CachedIndex extends GalleryIndex {
  readonly collection: string;
  readonly version: string;
  /** True when a graph answers (a large collection whose graph is built), false for an exact scan. */
  readonly approximate: boolean;
  /** The graph that answers or is being built (usearch, or the TypeScript fallback), or null. */
  readonly graphKind: GraphKind | null;
}

export interface GalleryCacheStats {
  /** Collections loaded in full with listFaces() (first use, or a feed that could not answer). */
  fullLoads: number;
  /** Syncs that applied the change feed instead. */
  incrementalSyncs: number;
  /** Changes applied from the feed. */
  changesApplied: number;
  /** Time spent building graphs, in slices between other work. */
  graphBuildMs: number;
  /** Collections loaded from a saved index (with `indexDir`), then brought up to date by the feed. */
  indexLoads: number;
  /** Saved indexes found corrupt or stale, and rebuilt. */
  indexRejected: number;
  /** Indexes saved. */
  indexSaves: number;
}

interface Entry {
  kernel: GalleryIndexKernel;
  /** A graph build is under way in slices (see schedule()). */
  building: boolean;
  version: string;
  /** Faces of another pipeline than the worker's, by id: kept for a save. */
  otherPipelines: Map<string, RecognitionPipeline | undefined>;
  checkedAt: number;
  view: CachedIndex;
}

/**
 * The worker's in-memory indexes, one per collection, each loaded on first use. At most every
 * `checkIntervalMs` (default 250 ms) a use asks the collection for the changes since the
 * version it holds and applies them to the index in place; only when the feed cannot answer
 * (the collection was removed and made again) is the collection loaded in full. Faces enrolled
 * with another pipeline than `pipeline` are warned about when they arrive. A collection large
 * enough for a graph (recognition/gallery-index.ts) gets it built in the background, in slices.
 */
export function createGalleryCache(
  gallery: Gallery,
  options: { checkIntervalMs?: number; now?: () => number; pipeline?: RecognitionPipeline; log?: Pick<Logger, 'warn'> & Partial<Pick<Logger, 'info'>>; index?: Partial<GalleryIndexOptions>; graphSliceMs?: number; indexDir?: string } = {},
) {
  const checkIntervalMs = options.checkIntervalMs ?? 250;
  const now = options.now ?? Date.now;
  const pipeline = options.pipeline ?? 'standard';
  const entries = new Map<string, Entry>();
  /** One sync per collection at a time; concurrent jobs share it. */
  const syncing = new Map<string, Promise<Entry>>();
  const stats: GalleryCacheStats = { fullLoads: 0, incrementalSyncs: 0, changesApplied: 0, graphBuildMs: 0, indexLoads: 0, indexRejected: 0, indexSaves: 0 };
  const indexDir = options.indexDir;
  const graphSliceMs = options.graphSliceMs ?? 25;

  function warn(collection: string, version: string, faces: readonly Pick<EnrolledFace, 'identity' | 'pipeline'>[]): void {
    const warning = otherPipelineWarning(faces, pipeline);
    if (warning) options.log?.warn({ collection, galleryVersion: version }, warning);
  }

  function makeEntry(collection: string, kernel: GalleryIndexKernel, version: string, others: Map<string, RecognitionPipeline | undefined>): Entry {
    const matcher = galleryIndexOver(kernel);
    const entry: Entry = { kernel, version, otherPipelines: others, building: false, checkedAt: now(), view: undefined as unknown as CachedIndex };
    entry.view = {
      collection,
      get version() {
        return entry.version;
      },
      get size() {
        return kernel.size;
      },
      get approximate() {
        return kernel.approximate;
      },
      get graphKind() {
        return kernel.graphKind;
      },
      match: (descriptor, opts) => matcher.match(descriptor, opts),
    };
    return entry;
  }

  /**
   * The collection from its saved index brought up to date by the feed, or null when there is
   * none, it does not check out (corrupt), or the feed cannot answer from its version (stale);
   * a rejected file is removed, and saved again once the graph is rebuilt.
   */
  async function restore(collection: string, dir: string): Promise<Entry | null> {
    let saved;
    try {
      saved = readIndex(dir, collection);
    } catch (err) {
      stats.indexRejected += 1;
      options.log?.warn({ collection, err: (err as Error).message }, `saved index of collection ${collection} is corrupt; building it again`);
      removeIndex(dir, collection);
      return null;
    }
    if (!saved) return null;
    const feed = await gallery.in(collection).changesSince(saved.version);
    if (!feed) {
      stats.indexRejected += 1;
      options.log?.info?.({ collection, savedVersion: saved.version }, `saved index of collection ${collection} is stale; building it again`);
      removeIndex(dir, collection);
      return null;
    }
    // Only faces of another pipeline carry one in the file: those are all a warning needs.
    const others = new Map<string, RecognitionPipeline | undefined>();
    const otherFaces: Pick<EnrolledFace, 'id' | 'identity' | 'pipeline'>[] = [];
    let kernel: GalleryIndexKernel;
    try {
      kernel = GalleryIndexKernel.restore(
        saved.dim,
        saved.slots,
        (visit) =>
          saved.forEachFace((slot, id, identity, facePipeline) => {
            // The visitor's pipeline is already a RecognitionPipeline (readIndex converts it).
            if (id !== null && facePipeline && facePipeline !== pipeline) {
              others.set(id, facePipeline);
              otherFaces.push({ id, identity, pipeline: facePipeline });
            }
            visit(slot, id, identity);
          }),
        saved.rows,
        saved.graphFile,
        options.index,
      );
    } catch (err) {
      stats.indexRejected += 1;
      options.log?.warn({ collection, err: (err as Error).message }, `saved index of collection ${collection} does not load; building it again`);
      // As a corrupt or stale one: removed, so the next start does not read and fail on it again.
      removeIndex(dir, collection);
      return null;
    }
    warn(collection, saved.version, otherFaces);
    const added = apply(kernel, feed.changes);
    dropSavedOnRemoval(collection, feed.changes);
    otherPipelines(added, pipeline, others);
    warn(collection, feed.version, added);
    stats.indexLoads += 1;
    stats.changesApplied += feed.changes.length;
    const entry = makeEntry(collection, kernel, feed.version, others);
    schedule(collection, entry);
    return entry;
  }

  function save(collection: string, entry: Entry): void {
    if (!indexDir || entry.kernel.graphKind !== 'usearch') return;
    try {
      if (saveIndex(indexDir, collection, entry.version, entry.kernel.dim, entry.otherPipelines, (file) => entry.kernel.saveGraph(file))) stats.indexSaves += 1;
    } catch (err) {
      options.log?.warn({ collection, err: (err as Error).message }, `could not save the index of collection ${collection}`);
    }
  }

  async function fullLoad(collection: string): Promise<Entry> {
    if (indexDir) {
      const restored = await restore(collection, indexDir);
      if (restored) return restored;
    }
    const view = gallery.in(collection);
    // Version first: a change landing during the read is then replayed by the next sync.
    const version = await view.version();
    // Row by row into the index's own storage: a million faces are never held as objects.
    let kernel: GalleryIndexKernel | null = null;
    const others: Pick<EnrolledFace, 'id' | 'identity' | 'pipeline'>[] = [];
    await view.eachFace((f) => {
      kernel ??= new GalleryIndexKernel(f.descriptor.length, undefined, options.index);
      kernel.add(f);
      if (toPipeline(f.pipeline) !== pipeline) others.push({ id: f.id, identity: f.identity, pipeline: f.pipeline });
    });
    stats.fullLoads += 1;
    warn(collection, version, others);
    const entry = makeEntry(collection, kernel ?? new GalleryIndexKernel(128, undefined, options.index), version, otherPipelines(others, pipeline));
    schedule(collection, entry);
    return entry;
  }

  /**
   * Build a collection's graph in slices of `graphSliceMs` between other work, so a large
   * collection's first load, or its growth past the size for a graph, never holds the event loop
   * for long. Matching is exact (and slower) until the graph is complete.
   */
  function schedule(collection: string, entry: Entry): void {
    if (entry.building || !entry.kernel.needsGraph) return;
    entry.building = true;
    const started = performance.now();
    let buildMs = 0;
    if (options.index?.graph === undefined || options.index.graph === 'auto') {
      const { kind, reason } = autoGraph();
      // Said once per build, so an operator sees which graph a worker runs and why.
      options.log?.info?.({ collection, faces: entry.kernel.size, graph: kind, ...(reason ? { reason } : {}) }, `building the ${kind} graph for collection ${collection}`);
    }
    const step = () => {
      // Forgotten or replaced by a full load: stop building for an index nobody uses.
      if (entries.get(collection) !== entry) {
        entry.building = false;
        return;
      }
      const t0 = performance.now();
      const done = entry.kernel.buildGraph(graphSliceMs);
      stats.graphBuildMs += performance.now() - t0;
      buildMs += performance.now() - t0;
      if (done || !entry.kernel.needsGraph) {
        entry.building = false;
        if (done) save(collection, entry);
        if (done && entry.kernel.graphKind) options.log?.info?.({ collection, faces: entry.kernel.size, graph: entry.kernel.graphKind, buildMs: Math.round(buildMs), wallMs: Math.round(performance.now() - started) }, `the ${entry.kernel.graphKind} graph of collection ${collection} answers`);
        return;
      }
      setTimeout(step, 0).unref?.();
    };
    setTimeout(step, 0).unref?.();
  }

  /**
   * A saved index holds every face it was saved with: once one of them is removed, its file would
   * keep a removed person's name and descriptor on disk. Delete it; the next graph build saves
   * the index again without them.
   */
  function dropSavedOnRemoval(collection: string, changes: GalleryChange[]): void {
    if (indexDir && changes.some((c) => c.op === 'remove' || c.op === 'remove-identity')) removeIndex(indexDir, collection);
  }

  function apply(kernel: GalleryIndexKernel, changes: GalleryChange[]): EnrolledFace[] {
    const added: EnrolledFace[] = [];
    for (const c of changes) {
      if (c.op === 'add') {
        kernel.add(c.face);
        added.push(c.face);
      } else if (c.op === 'remove') kernel.remove(c.faceId);
      else if (c.op === 'remove-identity') kernel.removeIdentity(c.identity);
    }
    return added;
  }

  async function sync(collection: string): Promise<Entry> {
    const entry = entries.get(collection);
    if (!entry) {
      const loaded = await fullLoad(collection);
      entries.set(collection, loaded);
      return loaded;
    }
    const feed = await gallery.in(collection).changesSince(entry.version);
    if (!feed) {
      // The collection was removed (or made again): its saved index is of what was removed.
      if (indexDir) removeIndex(indexDir, collection);
      const loaded = await fullLoad(collection);
      entries.set(collection, loaded);
      return loaded;
    }
    entry.checkedAt = now();
    if (feed.changes.length > 0) {
      const added = apply(entry.kernel, feed.changes);
      dropSavedOnRemoval(collection, feed.changes);
      otherPipelines(added, pipeline, entry.otherPipelines);
      warn(collection, feed.version, added);
      stats.incrementalSyncs += 1;
      stats.changesApplied += feed.changes.length;
      schedule(collection, entry);
    }
    entry.version = feed.version;
    return entry;
  }

  function syncOnce(collection: string): Promise<Entry> {
    let pending = syncing.get(collection);
    if (!pending) {
      pending = sync(collection).finally(() => syncing.delete(collection));
      syncing.set(collection, pending);
    }
    return pending;
  }

  return {
    /** The collection's index, brought up to date when the last check is older than the interval. */
    async get(collection: string = DEFAULT_COLLECTION): Promise<CachedIndex> {
      const entry = entries.get(collection);
      if (entry && now() - entry.checkedAt < checkIntervalMs) return entry.view;
      return (await syncOnce(collection)).view;
    },
    /** The collection's index brought up to date now, e.g. right after this worker enrolled a face. */
    async fresh(collection: string = DEFAULT_COLLECTION): Promise<CachedIndex> {
      // A sync already under way may have read the feed before the change the caller made.
      await syncing.get(collection)?.catch(() => undefined);
      return (await syncOnce(collection)).view;
    },
    /** Drop a collection's index; the next use loads it in full. */
    forget(collection: string = DEFAULT_COLLECTION): void {
      entries.delete(collection);
    },
    /** Kept for callers that enrolled a face: the next use syncs at once. */
    invalidate(collection: string = DEFAULT_COLLECTION): void {
      const entry = entries.get(collection);
      if (entry) entry.checkedAt = -Infinity;
    },
    stats(): GalleryCacheStats {
      return { ...stats };
    },
  };
}

export type GalleryCache = ReturnType<typeof createGalleryCache>;
