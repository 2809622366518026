/**
 * A hierarchical navigable small-world graph (HNSW, Malkov & Yashunin 2016) over rows of a
 * contiguous Float32Array, for approximate nearest-neighbour search by squared Euclidean
 * distance. The graph stores only links: node `n` is row `n` of the `rows` array the caller
 * passes to each call (it may be reallocated between calls as it grows).
 *
 * - Insertion is incremental (Algorithm 1 of the paper, with the neighbour-selection heuristic of
 *   Algorithm 4), so the graph follows enrollments as they arrive.
 * - Removal is a tombstone: a deleted node still routes searches but is never returned. The owner
 *   rebuilds the graph when tombstones pile up.
 * - Everything is in typed arrays; a search allocates only its result.
 */
import { seededRandom } from '../random.js';
import { Heap } from './hnsw-heap.js';

export interface HnswOptions {
  /** Links per node on the upper layers; layer 0 keeps twice as many. */
  m: number;
  /** Beam width while inserting. */
  efConstruction: number;
  /** Seed of the level draw, so a build is reproducible. */
  seed: number;
}

export const DEFAULT_HNSW: HnswOptions = { m: 16, efConstruction: 64, seed: 16 };

/** Squared Euclidean distance between `dim` floats of `a` at `ao` and of `b` at `bo`. */
export function squaredDistance(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  const tail = dim - (dim % 4);
  for (; j < tail; j += 4) {
    const d0 = a[ao + j]! - b[bo + j]!;
    const d1 = a[ao + j + 1]! - b[bo + j + 1]!;
    const d2 = a[ao + j + 2]! - b[bo + j + 2]!;
    const d3 = a[ao + j + 3]! - b[bo + j + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; j < dim; j++) {
    const d = a[ao + j]! - b[bo + j]!;
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}

/** Nodes and squared distances, nearest first. */
export interface Neighbours {
  nodes: Int32Array;
  distances: Float64Array;
}

export class HnswGraph {
  readonly dim: number;
  private readonly m: number;
  private readonly m0: number;
  private readonly efConstruction: number;
  private readonly mL: number;
  private readonly random: () => number;
  /** Layer 0: `m0` slots per node, and each node's count. */
  private links0: Int32Array;
  private count0: Uint8Array;
  /** Upper layers, for the few nodes that reach them: upper[node][level - 1] = [count, ...links]. */
  private upper: (Int32Array[] | undefined)[] = [];
  private deleted: Uint8Array;
  private visited: Uint32Array;
  private mark = 0;
  private entry = -1;
  private top = -1;
  private nodes = 0;
  /** Distances computed by searches (not insertions) so far: the work a query costs. */
  evaluations = 0;
  private lastLayerEvaluations = 0;
  private readonly candidates = new Heap(false);
  private readonly results = new Heap(true);

  constructor(dim: number, options: Partial<HnswOptions> = {}, capacity = 1024) {
    const o = { ...DEFAULT_HNSW, ...options };
    if (!(o.m >= 2 && o.m <= 127)) throw new RangeError(`m must be in [2, 127], got ${o.m}`);
    this.dim = dim;
    this.m = o.m;
    this.m0 = 2 * o.m;
    this.efConstruction = Math.max(o.efConstruction, o.m);
    this.mL = 1 / Math.log(o.m);
    this.random = seededRandom(o.seed);
    const cap = Math.max(1, capacity);
    this.links0 = new Int32Array(cap * this.m0);
    this.count0 = new Uint8Array(cap);
    this.deleted = new Uint8Array(cap);
    this.visited = new Uint32Array(cap);
  }

  /** Nodes inserted, deleted ones included. */
  get size(): number {
    return this.nodes;
  }

  /** Insert the next node: row `this.size` of `rows`. */
  insert(rows: Float32Array): number {
    const node = this.nodes;
    if (node === this.count0.length) this.grow();
    this.nodes += 1;
    const level = Math.floor(-Math.log(1 - this.random()) * this.mL);
    if (level > 0) this.upper[node] = Array.from({ length: level }, () => new Int32Array(this.m + 1));
    if (this.entry < 0) {
      this.entry = node;
      this.top = level;
      return node;
    }
    const qo = node * this.dim;
    let ep = this.entry;
    let epD = squaredDistance(rows, qo, rows, ep * this.dim, this.dim);
    for (let l = this.top; l > level; l--) [ep, epD] = this.greedy(rows, rows, qo, ep, epD, l);
    for (let l = Math.min(level, this.top); l >= 0; l--) {
      const found = this.searchLayer(rows, rows, qo, ep, epD, this.efConstruction, l, false);
      const chosen = this.select(rows, found.nodes, found.distances, this.m);
      this.setLinks(node, l, chosen);
      for (const n of chosen) this.link(rows, n, node, l);
      ep = found.nodes[0]!;
      epD = found.distances[0]!;
    }
    if (level > this.top) {
      this.top = level;
      this.entry = node;
    }
    return node;
  }

  /** Tombstone a node: it keeps routing searches but is never returned. */
  markDeleted(node: number): void {
    if (node >= 0 && node < this.nodes) this.deleted[node] = 1;
  }

  /** The `ef` nearest live nodes to `q` found by the beam search, nearest first. */
  search(rows: Float32Array, q: Float32Array, ef: number): Neighbours {
    if (this.entry < 0) return { nodes: new Int32Array(0), distances: new Float64Array(0) };
    let ep = this.entry;
    let epD = squaredDistance(q, 0, rows, ep * this.dim, this.dim);
    for (let l = this.top; l > 0; l--) [ep, epD] = this.greedy(rows, q, 0, ep, epD, l);
    const before = this.evaluations;
    const found = this.searchLayer(rows, q, 0, ep, epD, Math.max(1, ef), 0, true);
    this.evaluations = before + this.lastLayerEvaluations;
    return found;
  }

  private greedy(rows: Float32Array, q: Float32Array, qo: number, ep: number, epD: number, level: number): [number, number] {
    for (let changed = true; changed; ) {
      changed = false;
      const links = this.upper[ep]![level - 1]!;
      for (let i = 1; i <= links[0]!; i++) {
        const n = links[i]!;
        const d = squaredDistance(q, qo, rows, n * this.dim, this.dim);
        if (d < epD) {
          epD = d;
          ep = n;
          changed = true;
        }
      }
    }
    return [ep, epD];
  }

  private searchLayer(rows: Float32Array, q: Float32Array, qo: number, ep: number, epD: number, ef: number, level: number, liveOnly: boolean): Neighbours {
    const mark = this.nextMark();
    const visited = this.visited;
    const cand = this.candidates;
    const res = this.results;
    cand.clear();
    res.clear();
    visited[ep] = mark;
    cand.push(epD, ep);
    if (!liveOnly || !this.deleted[ep]) res.push(epD, ep);
    const dim = this.dim;
    let evaluated = 0;
    while (cand.size > 0) {
      const cd = cand.d[0]!;
      const c = cand.n[0]!;
      if (res.size >= ef && cd > res.d[0]!) break;
      cand.pop();
      let links: Int32Array;
      let start: number;
      let end: number;
      if (level === 0) {
        links = this.links0;
        start = c * this.m0;
        end = start + this.count0[c]!;
      } else {
        links = this.upper[c]![level - 1]!;
        start = 1;
        end = 1 + links[0]!;
      }
      for (let i = start; i < end; i++) {
        const n = links[i]!;
        if (visited[n] === mark) continue;
        visited[n] = mark;
        evaluated += 1;
        const d = squaredDistance(q, qo, rows, n * dim, dim);
        if (res.size < ef || d < res.d[0]!) {
          cand.push(d, n);
          if (!liveOnly || !this.deleted[n]) {
            res.push(d, n);
            if (res.size > ef) res.pop();
          }
        }
      }
    }
    this.lastLayerEvaluations = evaluated;
    const nodes = new Int32Array(res.size);
    const distances = new Float64Array(res.size);
    for (let i = res.size - 1; i >= 0; i--) {
      nodes[i] = res.n[0]!;
      distances[i] = res.d[0]!;
      res.pop();
    }
    return { nodes, distances };
  }

  /**
   * The heuristic of the paper's Algorithm 4: walking candidates nearest first, keep one only
   * when it is nearer to the base than to every one already kept, so links spread out.
   */
  private select(rows: Float32Array, nodes: Int32Array, distances: Float64Array, max: number): number[] {
    const kept: number[] = [];
    for (let i = 0; i < nodes.length && kept.length < max; i++) {
      const c = nodes[i]!;
      const co = c * this.dim;
      let good = true;
      for (const k of kept) {
        if (squaredDistance(rows, co, rows, k * this.dim, this.dim) < distances[i]!) {
          good = false;
          break;
        }
      }
      if (good) kept.push(c);
    }
    return kept;
  }

  private setLinks(node: number, level: number, links: number[]): void {
    if (level === 0) {
      const o = node * this.m0;
      links.forEach((n, i) => (this.links0[o + i] = n));
      this.count0[node] = links.length;
    } else {
      const arr = this.upper[node]![level - 1]!;
      arr[0] = links.length;
      links.forEach((n, i) => (arr[1 + i] = n));
    }
  }

  /** Add `to` to `from`'s links at `level`, re-selecting them when full. */
  private link(rows: Float32Array, from: number, to: number, level: number): void {
    const max = level === 0 ? this.m0 : this.m;
    const current: number[] = [];
    if (level === 0) {
      const o = from * this.m0;
      for (let i = 0; i < this.count0[from]!; i++) current.push(this.links0[o + i]!);
    } else {
      const arr = this.upper[from]![level - 1]!;
      for (let i = 1; i <= arr[0]!; i++) current.push(arr[i]!);
    }
    if (current.length < max) {
      current.push(to);
      this.setLinks(from, level, current);
      return;
    }
    current.push(to);
    const fo = from * this.dim;
    const scored = current.map((n) => ({ n, d: squaredDistance(rows, fo, rows, n * this.dim, this.dim) })).sort((a, b) => a.d - b.d);
    // The heuristic again, not the nearest `max`: those would drop a far node from every list
    // that links to it, leaving it unreachable.
    const chosen = this.select(rows, Int32Array.from(scored, (x) => x.n), Float64Array.from(scored, (x) => x.d), max);
    this.setLinks(from, level, chosen);
  }

  private nextMark(): number {
    this.mark = (this.mark + 1) >>> 0;
    if (this.mark === 0) {
      this.visited.fill(0);
      this.mark = 1;
    }
    return this.mark;
  }

  private grow(): void {
    const cap = this.count0.length * 2;
    const links0 = new Int32Array(cap * this.m0);
    links0.set(this.links0);
    this.links0 = links0;
    for (const name of ['count0', 'deleted'] as const) {
      const next = new Uint8Array(cap);
      next.set(this[name]);
      this[name] = next;
    }
    this.visited = new Uint32Array(cap);
    this.mark = 0;
  }
}
