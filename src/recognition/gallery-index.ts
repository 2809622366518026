import type { Candidate } from './types.js';
import { DEFAULT_HNSW, HnswGraph, squaredDistance, type HnswOptions } from './hnsw.js';
import { FaceIds } from './face-ids.js';
import { loadUsearch, NativeGraph, type GraphLike } from './native-graph.js';

/** What {@link GalleryIndexKernel.saveGraph} hands to be written: each slot's `[id, identity]` (null for a tombstone) and the rows. */
export interface SavedSlots {
  slots: number;
  faceAt(slot: number): [string, string] | null;
  rows: Float32Array;
}

/** What the index needs of a face. */
export interface IndexedFace {
  id: string;
  identity: string;
  descriptor: ArrayLike<number>;
}

export interface GalleryIndexOptions {
  /**
   * Above this many faces, queries walk an HNSW graph (./hnsw.ts); at or below it they scan every
   * face exactly. `Infinity` keeps the index exact at any size.
   */
  graphAbove: number;
  /**
   * The graph search's beam width: larger is slower and nearer to exact. Unset, each graph's own
   * default ({@link DEFAULT_EF_SEARCH}).
   */
  efSearch?: number;
  hnsw: Partial<HnswOptions>;
  /**
   * Which graph: `usearch` (the native addon, ./native-graph.ts), `typescript` (./hnsw.ts), or
   * `auto`, usearch when it loads and the TypeScript graph otherwise.
   */
  graph: GraphKind | 'auto';
}

export type GraphKind = 'usearch' | 'typescript';

/** The graph `auto` picks in this process, and why usearch is not it when it is not (tests name a missing module). */
export function autoGraph(moduleName = 'usearch'): { kind: GraphKind; reason: string | null } {
  const { module, error } = loadUsearch(moduleName);
  return module ? { kind: 'usearch', reason: null } : { kind: 'typescript', reason: `usearch does not load (${error})` };
}

/**
 * The beam of each graph's search. usearch's 256: on 1,300 held-out LFW queries against 11,908
 * enrolled images (`bench:gallery --real --queries 1300 --ef N`), rank-1 agreement with exact
 * search was 99.46% at 64, 99.85% at 128 and 100% at 256 (the issue asks at least 99.9%). The
 * TypeScript graph keeps 64, where each distance costs far more (docs/collections.md).
 */
export const DEFAULT_EF_SEARCH: Record<GraphKind, number> = { usearch: 256, typescript: 64 };

/**
 * Exact up to 10,000 faces (a few ms a query), the graph above: its agreement with exact search
 * is measured by `npm run bench:gallery` (docs/collections.md).
 */
export const DEFAULT_INDEX_OPTIONS: GalleryIndexOptions = { graphAbove: 10_000, hnsw: DEFAULT_HNSW, graph: 'auto' };

/**
 * Faces added to a complete graph that every graph query also scans exactly: an HNSW graph can
 * leave a face far from all others without links into it (usearch did, at 100,000 faces), and a
 * new enrollment must be matched at once. Scanning 512 rows costs about as much as 512 of the
 * beam's distances.
 */
const FRESH = 512;

/** Rows a native graph takes per call while building: the addon's call cost spread over many. */
const NATIVE_BATCH = 32;

const INITIAL_CAPACITY = 1024;
/** Widest beam tried before an exact scan answers instead. */
const MAX_BEAM = 1024;

/**
 * A nearest-identity index over face descriptors, kept current by `add` and `remove`. An
 * identity's distance is that of its nearest face, and results are distinct identities.
 *
 * Rows live in one contiguous Float32Array of slots (grown by doubling). A removed face leaves a
 * tombstone; when tombstones reach a quarter of the slots (half while there is a graph) the rows
 * are compacted and the graph dropped, to be built again by {@link GalleryIndexKernel.buildGraph}.
 * - Small galleries are scanned exactly: one pass over memory, squared distances folded into a
 *   per-identity minimum, the k nearest picked by insertion into a k-slot list.
 * - Above `graphAbove` faces, once {@link GalleryIndexKernel.buildGraph} has built it, an HNSW
 *   graph finds the `efSearch` nearest faces (distances exact), folded into identities. When the
 *   beam holds fewer identities than asked for (one person with many faces), it is widened, up
 *   to an exact scan.
 */
export class GalleryIndexKernel {
  readonly dim: number;
  private readonly options: GalleryIndexOptions;
  private rows: Float32Array;
  /** Identity ordinal of each slot; -1 for a tombstone. */
  private slotIdentity: Int32Array;
  /** Each live slot's face id, and the slot of each id. */
  private faceIds: FaceIds;
  private slots = 0;
  private live = 0;
  private readonly identityIndex = new Map<string, number>();
  private identityNames: string[] = [];
  /**
   * Live slots of each identity ordinal, in the order they were placed (which is slot order): a
   * list through `slotNext` / `slotPrev` from `identityHead` to `identityTail` (-1 ends it), and
   * its length. Typed arrays rather than an array per identity, which cost some 180 bytes each
   * (37 MB at 200,000 identities).
   */
  private identityCount: Int32Array = new Int32Array(64);
  private identityHead: Int32Array = new Int32Array(64).fill(-1);
  private identityTail: Int32Array = new Int32Array(64).fill(-1);
  private slotNext: Int32Array;
  private slotPrev: Int32Array;
  private liveIdentities = 0;
  private best = new Float64Array(64);
  /**
   * Each identity's template: the mean of its live faces (row `ordinal`). Made on the first
   * template query and kept current from then on. The default 1:N rule blends template
   * distances in, so a serving index makes them at its first query (a scan of every face, 100 MB
   * at 200,000 identities); an index whose rule has no template weight never does.
   */
  private templates: Float32Array | null = null;
  private seen = new Uint32Array(64);
  /** The largest norm of any row added: bounds the half-precision error of a usearch distance. */
  private maxNorm = 0;
  private topD = new Float64Array(16);
  private topO = new Int32Array(16);
  private seenMark = 0;
  private graph: GraphLike | null = null;
  private graphKindUsed: GraphKind | null = null;
  /** The last {@link FRESH} slots added to the complete graph, oldest first. */
  private fresh: number[] = [];
  /** Distances the graph has computed for queries since the index was made (rebuilds included). */
  private graphEvaluations = 0;

  constructor(dim = 128, capacity = INITIAL_CAPACITY, options: Partial<GalleryIndexOptions> = {}) {
    this.dim = dim;
    this.options = { ...DEFAULT_INDEX_OPTIONS, ...options };
    const cap = Math.max(1, capacity);
    this.rows = new Float32Array(cap * dim);
    this.slotIdentity = new Int32Array(cap);
    this.faceIds = new FaceIds(cap);
    this.slotNext = new Int32Array(cap);
    this.slotPrev = new Int32Array(cap);
  }

  /** Faces indexed. */
  get size(): number {
    return this.live;
  }

  /** Identities with at least one face. */
  get identities(): number {
    return this.liveIdentities;
  }

  /** True when queries go through the graph rather than an exact scan. */
  get approximate(): boolean {
    return this.graph !== null && this.graph.size === this.slots;
  }

  /** The graph that answers or is being built, or null when there is none. */
  get graphKind(): GraphKind | null {
    return this.graph ? this.graphKindUsed : null;
  }

  /** True while the index is large enough for a graph but has none complete: see {@link buildGraph}. */
  get needsGraph(): boolean {
    return this.live > this.options.graphAbove && !this.approximate;
  }

  /** Distances computed by graph queries so far: the work they cost, whatever the machine. */
  get evaluations(): number {
    return this.graphEvaluations + (this.graph?.evaluations ?? 0);
  }

  /** True when a face of this id is indexed. */
  has(faceId: string): boolean {
    return this.faceIds.slotOf(faceId) >= 0;
  }

  /**
   * Add a face; a face id already present is replaced. Throws RangeError on a wrong length, or
   * an id with a lone surrogate (see {@link FaceIds.check}), and then changes nothing.
   */
  add(face: IndexedFace): void {
    if (face.descriptor.length !== this.dim) {
      throw new RangeError(`face ${face.id} of ${face.identity} has ${face.descriptor.length} dimensions, expected ${this.dim}`);
    }
    FaceIds.check(face.id);
    this.remove(face.id);
    if (this.slots === this.slotIdentity.length) this.grow();
    const slot = this.slots++;
    this.rows.set(face.descriptor, slot * this.dim);
    this.place(slot, face.id, face.identity);
    // A complete graph takes the face at once; a partial one is caught up by buildGraph.
    if (this.graph && this.graph.size === slot) {
      this.graph.insert(this.rows);
      this.fresh.push(slot);
      if (this.fresh.length > FRESH) this.fresh.shift();
    }
  }

  /** Name slot `slot`, whose row is in place, as face `id` of `identity`. */
  private place(slot: number, id: string, identity: string): void {
    let norm = 0;
    for (let j = 0, o = slot * this.dim; j < this.dim; j++) norm += this.rows[o + j]! * this.rows[o + j]!;
    if (norm > this.maxNorm * this.maxNorm) this.maxNorm = Math.sqrt(norm);
    const ord = this.identityOrdinal(identity);
    this.slotIdentity[slot] = ord;
    this.faceIds.set(slot, id);
    if (this.identityCount[ord] === 0) this.liveIdentities += 1;
    this.link(ord, slot);
    this.updateTemplate(ord);
    this.live += 1;
  }

  /** Remove one face. False when it is not indexed. */
  remove(faceId: string): boolean {
    const slot = this.faceIds.slotOf(faceId);
    if (slot < 0) return false;
    const ord = this.slotIdentity[slot]!;
    this.unlink(ord, slot);
    if (this.identityCount[ord] === 0) this.liveIdentities -= 1;
    else this.updateTemplate(ord);
    this.slotIdentity[slot] = -1;
    this.faceIds.clear(slot);
    this.live -= 1;
    if (this.graph && slot < this.graph.size) this.graph.markDeleted(slot);
    const dead = this.slots - this.live;
    if (dead >= 64 && dead > this.slots * (this.graph ? 0.5 : 0.25)) this.compact();
    return true;
  }

  /** Remove every face of an identity. Returns how many were removed. */
  removeIdentity(identity: string): number {
    const ord = this.identityIndex.get(identity);
    if (ord === undefined) return 0;
    const ids: string[] = [];
    for (let s = this.identityHead[ord]!; s >= 0; s = this.slotNext[s]!) ids.push(this.faceIds.idAt(s)!);
    for (const id of ids) this.remove(id);
    return ids.length;
  }

  /**
   * The `k` nearest distinct identities, nearest first (ties by name), with Euclidean
   * distances. Throws RangeError when the descriptor's length is not the index's.
   */
  nearest(descriptor: ArrayLike<number>, k: number): Candidate[] {
    if (this.live === 0 || k <= 0) return [];
    if (descriptor.length !== this.dim) throw new RangeError(`descriptor has ${descriptor.length} dimensions, expected ${this.dim}`);
    const q = descriptor instanceof Float32Array ? descriptor : Float32Array.from(descriptor);
    return this.approximate ? this.viaGraph(q, k) : this.exact(q, k);
  }

  /** {@link nearest} by an exact scan whatever the size: the reference the graph is measured against. */
  nearestExact(descriptor: ArrayLike<number>, k: number): Candidate[] {
    if (this.live === 0 || k <= 0) return [];
    if (descriptor.length !== this.dim) throw new RangeError(`descriptor has ${descriptor.length} dimensions, expected ${this.dim}`);
    return this.exact(descriptor instanceof Float32Array ? descriptor : Float32Array.from(descriptor), k);
  }

  /**
   * The `k` identities whose templates (the mean of each identity's faces) are nearest, nearest
   * first (ties by name): an exact scan over identities, one row each. With one face an identity's
   * template is that face.
   */
  nearestTemplates(descriptor: ArrayLike<number>, k: number): Candidate[] {
    if (this.live === 0 || k <= 0) return [];
    if (descriptor.length !== this.dim) throw new RangeError(`descriptor has ${descriptor.length} dimensions, expected ${this.dim}`);
    const q = descriptor instanceof Float32Array ? descriptor : Float32Array.from(descriptor);
    const templates = this.ensureTemplates();
    const found: number[] = [];
    for (let ord = 0; ord < this.identityNames.length; ord++) {
      if (this.identityCount[ord] === 0) continue;
      this.best[ord] = squaredDistance(q, 0, templates, ord * this.dim, this.dim);
      found.push(ord);
    }
    return this.selectK(found, Math.min(k, found.length));
  }

  /**
   * The distance from `descriptor` to each named identity's template (see {@link nearestTemplates}),
   * in the same order; NaN for an identity with no face. Exact, one row per identity.
   */
  templateDistances(descriptor: ArrayLike<number>, identities: readonly string[]): number[] {
    if (descriptor.length !== this.dim) throw new RangeError(`descriptor has ${descriptor.length} dimensions, expected ${this.dim}`);
    const q = descriptor instanceof Float32Array ? descriptor : Float32Array.from(descriptor);
    return identities.map((name) => {
      const ord = this.identityIndex.get(name);
      if (ord === undefined || this.identityCount[ord] === 0) return Number.NaN;
      return Math.sqrt(squaredDistance(q, 0, this.ensureTemplates(), ord * this.dim, this.dim));
    });
  }

  /** Every identity's template, made on first use and kept up to date after. */
  private ensureTemplates(): Float32Array {
    if (!this.templates) {
      this.templates = new Float32Array(this.best.length * this.dim);
      for (let ord = 0; ord < this.identityNames.length; ord++) if (this.identityCount[ord]! > 0) this.updateTemplate(ord);
    }
    return this.templates;
  }

  private updateTemplate(ord: number): void {
    if (!this.templates) return;
    const count = this.identityCount[ord]!;
    const head = this.identityHead[ord]!;
    const next = this.slotNext;
    const dim = this.dim;
    const o = ord * dim;
    for (let j = 0; j < dim; j++) {
      let s = 0;
      for (let slot = head; slot >= 0; slot = next[slot]!) s += this.rows[slot * dim + j]!;
      this.templates[o + j] = s / count;
    }
  }

  private exact(q: Float32Array, k: number): Candidate[] {
    const dim = this.dim;
    const rows = this.rows;
    const ids = this.slotIdentity;
    const best = this.best;
    const identities = this.identityNames.length;
    best.fill(Infinity, 0, identities);
    for (let r = 0, o = 0; r < this.slots; r++, o += dim) {
      const id = ids[r]!;
      if (id < 0) continue;
      const s = squaredDistance(q, 0, rows, o, dim);
      if (s < best[id]!) best[id] = s;
    }
    const found: number[] = [];
    for (let id = 0; id < identities; id++) if (best[id]! !== Infinity) found.push(id);
    return this.selectK(found, Math.min(k, found.length));
  }

  private viaGraph(q: Float32Array, k: number): Candidate[] {
    const want = Math.min(k, this.liveIdentities);
    if (this.topD.length < want) {
      this.topD = new Float64Array(want);
      this.topO = new Int32Array(want);
    }
    const best = this.best;
    const seen = this.seen;
    const beam = this.options.efSearch ?? DEFAULT_EF_SEARCH[this.graphKindUsed ?? 'typescript'];
    for (let ef = Math.max(beam, 2 * k); ; ef *= 2) {
      if (ef > MAX_BEAM || ef >= this.live) return this.exact(q, k);
      this.seenMark = (this.seenMark + 1) >>> 0;
      if (this.seenMark === 0) {
        seen.fill(0);
        this.seenMark = 1;
      }
      const mark = this.seenMark;
      const found: number[] = [];
      // Either way `found` holds at least `want` identities when the search reached that many.
      if (this.graph instanceof NativeGraph) this.foldApprox(this.graph, q, ef, want, mark, found);
      else {
        const { nodes, distances } = this.graph!.search(this.rows, q, ef);
        // Nearest first, so an identity's first node is its nearest found face.
        for (let i = 0; i < nodes.length; i++) {
          const ord = this.slotIdentity[nodes[i]!]!;
          if (ord < 0 || seen[ord] === mark) continue;
          seen[ord] = mark;
          best[ord] = distances[i]!;
          found.push(ord);
        }
      }
      // The newest faces by an exact scan, whether or not the graph reached them.
      for (const slot of this.fresh) {
        const ord = this.slotIdentity[slot]!;
        if (ord < 0) continue;
        const d = squaredDistance(q, 0, this.rows, slot * this.dim, this.dim);
        if (seen[ord] !== mark) {
          seen[ord] = mark;
          best[ord] = d;
          found.push(ord);
        } else if (d < best[ord]!) {
          // Reached by the graph but skipped there (no exact distance yet): found only now.
          if (best[ord] === Infinity) found.push(ord);
          best[ord] = d;
        }
      }
      if (found.length >= want) return this.selectK(found, want);
    }
  }

  /**
   * Fold a usearch search into identities (`best`, `found`, `seen` at `mark`), computing exact
   * distances only for nodes that can be among the `want` nearest identities: a node whose
   * half-precision distance, less its error bound, is beyond the `want`-th identity found so far
   * cannot be (see {@link NativeGraph.searchApprox}). Nodes are only skipped once `want`
   * identities have exact distances, so `found` holds at least `want` whenever the search reached
   * that many.
   */
  private foldApprox(graph: NativeGraph, q: Float32Array, ef: number, want: number, mark: number, found: number[]): void {
    const { nodes, approx } = graph.searchApprox(q, ef);
    const best = this.best;
    const seen = this.seen;
    const dim = this.dim;
    let qNorm = 0;
    for (let j = 0; j < dim; j++) qNorm += q[j]! * q[j]!;
    // Twice the rounding bound, for slack.
    const slack = (Math.sqrt(qNorm) + this.maxNorm) * 2 ** -10;
    const topD = this.topD;
    const topO = this.topO;
    let filled = 0;
    let computed = 0;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      const ord = this.slotIdentity[node]!;
      if (ord < 0) continue;
      if (seen[ord] !== mark) {
        seen[ord] = mark;
        best[ord] = Infinity;
      }
      if (filled === want) {
        const lower = Math.sqrt(approx[i]!) - slack;
        if (lower > 0 && lower * lower > topD[want - 1]!) continue;
      }
      const d = squaredDistance(q, 0, this.rows, node * dim, dim);
      computed += 1;
      if (!(d < best[ord]!)) continue;
      if (best[ord] === Infinity) found.push(ord);
      best[ord] = d;
      // Keep the `want` nearest identities so far, nearest first, for the bound.
      let p = 0;
      while (p < filled && topO[p] !== ord) p += 1;
      if (p === filled) {
        if (filled < want) filled += 1;
        else if (d >= topD[want - 1]!) continue;
        p = filled - 1;
      }
      while (p > 0 && topD[p - 1]! > d) {
        topD[p] = topD[p - 1]!;
        topO[p] = topO[p - 1]!;
        p -= 1;
      }
      topD[p] = d;
      topO[p] = ord;
    }
    graph.countEvaluations(computed);
  }

  /** The k nearest of `found` identity ordinals by `best`, ties by name. */
  private selectK(found: readonly number[], k: number): Candidate[] {
    const best = this.best;
    const names = this.identityNames;
    const topD = new Float64Array(k);
    const topI = new Int32Array(k);
    let filled = 0;
    for (const id of found) {
      const d = best[id]!;
      if (filled === k && !before(d, names[id]!, topD[k - 1]!, names[topI[k - 1]!]!)) continue;
      let p = filled < k ? filled++ : k - 1;
      while (p > 0 && before(d, names[id]!, topD[p - 1]!, names[topI[p - 1]!]!)) {
        topD[p] = topD[p - 1]!;
        topI[p] = topI[p - 1]!;
        p -= 1;
      }
      topD[p] = d;
      topI[p] = id;
    }
    const out: Candidate[] = [];
    for (let i = 0; i < filled; i++) out.push({ identity: names[topI[i]!]!, distance: Math.sqrt(topD[i]!) });
    return out;
  }

  private identityOrdinal(identity: string): number {
    let ord = this.identityIndex.get(identity);
    if (ord !== undefined) return ord;
    ord = this.identityNames.length;
    this.identityNames.push(identity);
    this.identityIndex.set(identity, ord);
    if (ord === this.best.length) {
      this.best = new Float64Array(ord * 2);
      this.seen = new Uint32Array(ord * 2);
      this.identityCount = grown(this.identityCount, ord * 2, 0);
      this.identityHead = grown(this.identityHead, ord * 2, -1);
      this.identityTail = grown(this.identityTail, ord * 2, -1);
      if (this.templates) {
        const templates = new Float32Array(ord * 2 * this.dim);
        templates.set(this.templates);
        this.templates = templates;
      }
      this.seenMark = 0;
    }
    return ord;
  }

  private grow(): void {
    // Room made by dropping tombstones is as good as new room, and keeps the graph's slots dense.
    if (this.slots - this.live > this.slots / 4) {
      this.compact();
      if (this.slots < this.slotIdentity.length) return;
    }
    const cap = this.slotIdentity.length * 2;
    const rows = new Float32Array(cap * this.dim);
    rows.set(this.rows.subarray(0, this.slots * this.dim));
    this.rows = rows;
    const ids = new Int32Array(cap);
    ids.set(this.slotIdentity.subarray(0, this.slots));
    this.slotIdentity = ids;
    this.slotNext = grown(this.slotNext, cap, 0);
    this.slotPrev = grown(this.slotPrev, cap, 0);
  }

  /** Append `slot` to identity `ord`'s list of slots. */
  private link(ord: number, slot: number): void {
    const tail = this.identityTail[ord]!;
    this.slotPrev[slot] = tail;
    this.slotNext[slot] = -1;
    if (tail >= 0) this.slotNext[tail] = slot;
    else this.identityHead[ord] = slot;
    this.identityTail[ord] = slot;
    this.identityCount[ord] += 1;
  }

  /** Take `slot` out of identity `ord`'s list. */
  private unlink(ord: number, slot: number): void {
    const prev = this.slotPrev[slot]!;
    const next = this.slotNext[slot]!;
    if (prev >= 0) this.slotNext[prev] = next;
    else this.identityHead[ord] = next;
    if (next >= 0) this.slotPrev[next] = prev;
    else this.identityTail[ord] = prev;
    this.identityCount[ord] -= 1;
  }

  /** Drop tombstones: live rows move down in order; the graph, if still wanted, is rebuilt. */
  private compact(): void {
    let to = 0;
    this.identityCount.fill(0);
    this.identityHead.fill(-1);
    this.identityTail.fill(-1);
    for (let from = 0; from < this.slots; from++) {
      const ord = this.slotIdentity[from]!;
      if (ord < 0) continue;
      if (from !== to) {
        this.rows.copyWithin(to * this.dim, from * this.dim, (from + 1) * this.dim);
        this.slotIdentity[to] = ord;
      }
      this.link(ord, to);
      to += 1;
    }
    // Live slots are exactly those with an id: both keep them, in the same order.
    if (this.faceIds.compact(this.slots) !== to) throw new Error('gallery index: face ids and slots disagree');
    this.slots = to;
    this.graphEvaluations += this.graph?.evaluations ?? 0;
    this.graph = null;
    this.fresh = [];
  }

  /**
   * Insert faces into the graph, starting it when the index has grown past `graphAbove`, for at
   * most about `budgetMs`; true when the graph is complete (or not wanted). Until then queries
   * are answered by the exact scan, so a caller can build in slices between other work.
   */
  buildGraph(budgetMs = Infinity): boolean {
    if (this.live <= this.options.graphAbove) return true;
    const start = performance.now();
    if (!this.graph) this.graph = this.newGraph();
    const graph = this.graph;
    if (graph instanceof NativeGraph) {
      while (graph.size < this.slots) {
        const from = graph.size;
        graph.insertMany(this.rows, Math.min(NATIVE_BATCH, this.slots - from));
        for (let node = from; node < graph.size; node++) if (this.slotIdentity[node]! < 0) graph.markDeleted(node);
        if (performance.now() - start > budgetMs) break;
      }
      return graph.size === this.slots;
    }
    while (graph.size < this.slots) {
      const node = graph.insert(this.rows);
      if (this.slotIdentity[node]! < 0) graph.markDeleted(node);
      if (node % 32 === 0 && performance.now() - start > budgetMs) break;
    }
    return graph.size === this.slots;
  }

  /**
   * What a saved index holds: each slot's face (null for a tombstone) and the rows, in slot
   * order, and the usearch graph written to `graphFile`. Null unless a complete usearch graph
   * answers: only that graph is worth saving (the TypeScript one is rebuilt).
   */
  saveGraph(graphFile: string): SavedSlots | null {
    if (!this.approximate || !(this.graph instanceof NativeGraph)) return null;
    this.graph.save(graphFile);
    return {
      slots: this.slots,
      faceAt: (s) => {
        const id = this.faceIds.idAt(s);
        return id === undefined ? null : [id, this.identityNames[this.slotIdentity[s]!]!];
      },
      rows: this.rows.subarray(0, this.slots * this.dim),
    };
  }

  /**
   * An index over saved slots (see {@link saveGraph}), answering at once from its usearch graph
   * read from `graphFile`. `faces(visit)` calls `visit` for each of the `slots` slots in order
   * with its face id and identity (a null id for a tombstone), so a million faces need never be
   * held as arrays at once; `rows` is taken as the index's own storage, not copied (its length
   * beyond the slots is room to grow). Throws when usearch does not load or the file does not
   * read, and RangeError when the visits do not match `slots`.
   */
  static restore(
    dim: number,
    slots: number,
    faces: (visit: (slot: number, id: string | null, identity: string) => void) => void,
    rows: Float32Array,
    graphFile: string,
    options: Partial<GalleryIndexOptions> = {},
  ): GalleryIndexKernel {
    if (rows.length < slots * dim || rows.length % dim !== 0) throw new RangeError(`saved rows hold ${rows.length / dim} faces, the face list ${slots}`);
    const { module, error } = loadUsearch();
    if (!module) throw new Error(`usearch does not load: ${error}`);
    const hnsw = { ...DEFAULT_HNSW, ...options.hnsw };
    const kernel = new GalleryIndexKernel(dim, 1, { ...options, graph: 'usearch' });
    kernel.rows = rows;
    kernel.slotIdentity = new Int32Array(rows.length / dim);
    kernel.faceIds = new FaceIds(rows.length / dim);
    kernel.slotNext = new Int32Array(rows.length / dim);
    kernel.slotPrev = new Int32Array(rows.length / dim);
    /** Slots tombstoned here though saved with a face (a duplicate id): the graph must not return them. */
    const duplicates: number[] = [];
    let next = 0;
    faces((s, id, identity) => {
      if (s !== next || s >= slots) throw new RangeError(`saved face list visits slot ${s}, expected ${next} of ${slots}`);
      next += 1;
      if (id !== null && !kernel.has(id)) kernel.place(s, id, identity);
      else {
        kernel.slotIdentity[s] = -1;
        if (id !== null) duplicates.push(s);
      }
    });
    if (next !== slots) throw new RangeError(`saved face list holds ${next} faces, expected ${slots}`);
    kernel.slots = slots;
    const graph = new NativeGraph(module, dim, { m: hnsw.m, efConstruction: hnsw.efConstruction });
    graph.load(graphFile, slots);
    for (const s of duplicates) graph.markDeleted(s);
    kernel.graph = graph;
    kernel.graphKindUsed = 'usearch';
    return kernel;
  }

  private newGraph(): GraphLike {
    const hnsw = { ...DEFAULT_HNSW, ...this.options.hnsw };
    let kind = this.options.graph === 'auto' ? autoGraph().kind : this.options.graph;
    if (kind === 'usearch') {
      const { module, error } = loadUsearch();
      if (!module) throw new Error(`usearch does not load: ${error}`);
      this.graphKindUsed = kind;
      return new NativeGraph(module, this.dim, { m: hnsw.m, efConstruction: hnsw.efConstruction });
    }
    kind = 'typescript';
    this.graphKindUsed = kind;
    return new HnswGraph(this.dim, hnsw, this.slotIdentity.length);
  }
}

/** `array` copied into a new one of `length`, the rest `fill`. */
function grown(array: Int32Array, length: number, fill: number): Int32Array {
  const out = new Int32Array(length);
  out.set(array.subarray(0, Math.min(array.length, length)));
  if (length > array.length) out.fill(fill, array.length);
  return out;
}

function before(d: number, name: string, otherD: number, otherName: string): boolean {
  return d < otherD || (d === otherD && name.localeCompare(otherName) < 0);
}

/**
 * An index over `faces`, sized for them. Its graph, when it is large enough for one, is built
 * before it returns unless `graph` is false (the caller then builds it with `buildGraph`).
 */
export function buildGalleryIndex(
  faces: readonly IndexedFace[],
  dim = faces[0]?.descriptor.length ?? 128,
  options: Partial<GalleryIndexOptions> = {},
  graph = true,
): GalleryIndexKernel {
  const index = new GalleryIndexKernel(dim, faces.length, options);
  for (const f of faces) index.add(f);
  if (graph) index.buildGraph();
  return index;
}
