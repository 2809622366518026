/**
 * The HNSW graph of `usearch` (an optional dependency: a prebuilt N-API addon shipped in its npm
 * package), behind the same small interface as the TypeScript graph of ./hnsw.ts, which stays
 * the fallback when the addon does not load.
 *
 * - Node `n` is row `n` of the kernel's rows, keyed `n` in usearch. The graph keeps its own copy
 *   of each row in half precision (f16), which is all it needs to route a search; the distances
 *   a search returns are recomputed exactly from the kernel's Float32 rows, so decisions are made
 *   on the same numbers as an exact scan.
 * - Removal marks the node deleted: it is never returned. The kernel drops the graph when
 *   tombstones pile up, as with the TypeScript graph.
 * - Everything runs on the calling thread (`threads = 1`): a worker is one core.
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { squaredDistance, type Neighbours } from './hnsw.js';

/** The subset of usearch's Index used here. */
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
  search(vector: Float32Array, k: number, threads: number): { keys: BigUint64Array; distances: Float32Array };
  remove(keys: bigint): number;
  size(): number;
  save(path: string): void;
  load(path: string): void;
}
interface UsearchModule {
  Index: new (config: { dimensions: number; metric: string; quantization: string; connectivity: number; expansion_add: number; expansion_search: number; multi: boolean }) => UsearchIndex;
}

export interface NativeGraphOptions {
  /** Links per node (usearch's connectivity). */
  m: number;
  efConstruction: number;
}

/** What the kernel asks of a graph, whichever implementation it is. */
export interface GraphLike {
  readonly size: number;
  readonly evaluations: number;
  insert(rows: Float32Array): number;
  markDeleted(node: number): void;
  search(rows: Float32Array, q: Float32Array, ef: number): Neighbours;
}

/** Which 32-bit word of a 64-bit key is its low one on this host. */
const LOW_WORD = endianness() === 'LE' ? 0 : 1;

let loaded: { module: UsearchModule | null; error: string | null } | undefined;

/** usearch, or null with the reason it did not load (once per process). */
export function loadUsearch(name = 'usearch'): { module: UsearchModule | null; error: string | null } {
  if (loaded && name === 'usearch') return loaded;
  let result: { module: UsearchModule | null; error: string | null };
  try {
    const mod = createRequire(import.meta.url)(name) as UsearchModule & { default?: UsearchModule };
    result = { module: mod.Index ? mod : (mod.default ?? null), error: null };
    // A probe: the addon loads lazily in some builds, so make and use an index once.
    const probe = new result.module!.Index({ dimensions: 2, metric: 'l2sq', quantization: 'f16', connectivity: 4, expansion_add: 8, expansion_search: 8, multi: false });
    probe.add(new BigUint64Array([0n]), new Float32Array([0, 1]), 1);
    if (probe.search(new Float32Array([0, 1]), 1, 1).keys[0] !== 0n) throw new Error('probe search answered wrong');
  } catch (err) {
    result = { module: null, error: (err as Error).message.split('\n')[0]! };
  }
  if (name === 'usearch') loaded = result;
  return result;
}

export class NativeGraph implements GraphLike {
  readonly dim: number;
  private readonly index: UsearchIndex;
  private nodes = 0;
  evaluations = 0;
  private readonly key = new BigUint64Array(1);
  private nodeBuf = new Int32Array(0);

  constructor(module: UsearchModule, dim: number, options: NativeGraphOptions) {
    this.dim = dim;
    this.index = new module.Index({ dimensions: dim, metric: 'l2sq', quantization: 'f16', connectivity: options.m, expansion_add: options.efConstruction, expansion_search: 16, multi: false });
  }

  get size(): number {
    return this.nodes;
  }

  /** Insert the next node: row `this.size` of `rows`. */
  insert(rows: Float32Array): number {
    const node = this.nodes;
    this.key[0] = BigInt(node);
    this.index.add(this.key, rows.subarray(node * this.dim, (node + 1) * this.dim), 1);
    this.nodes += 1;
    return node;
  }

  /** Insert the next `count` nodes in one call (rows `size .. size + count - 1`). */
  insertMany(rows: Float32Array, count: number): void {
    if (count <= 0) return;
    const keys = new BigUint64Array(count);
    for (let i = 0; i < count; i++) keys[i] = BigInt(this.nodes + i);
    this.index.add(keys, rows.subarray(this.nodes * this.dim, (this.nodes + count) * this.dim), 1);
    this.nodes += count;
  }

  markDeleted(node: number): void {
    this.index.remove(BigInt(node));
  }

  /**
   * The `ef` nearest live nodes found, nearest first, with exact squared distances from `rows`
   * (the `GraphLike` search; the gallery kernel uses {@link searchApprox} instead).
   */
  search(rows: Float32Array, q: Float32Array, ef: number): Neighbours {
    const found = [...this.searchApprox(q, ef).nodes].map((node) => ({ node, d: squaredDistance(q, 0, rows, node * this.dim, this.dim) }));
    found.sort((x, y) => x.d - y.d || x.node - y.node);
    this.evaluations += found.length;
    return { nodes: Int32Array.from(found, (f) => f.node), distances: Float64Array.from(found, (f) => f.d) };
  }

  /**
   * The `ef` nearest live nodes found, in usearch's order, with usearch's own squared distances,
   * computed on half-precision copies of the query and the rows. A distance `d` of that kind is
   * within `E = 2^-11 (|q| + |row|)` of the exact one (both taken as square roots: the triangle
   * inequality on the rounding errors), which lets the kernel skip exact distances that cannot
   * matter. The node array is this graph's own, reused by the next search.
   */
  searchApprox(q: Float32Array, ef: number): { nodes: Int32Array; approx: Float32Array } {
    const found = this.index.search(q, ef, 1);
    const n = found.keys.length;
    if (this.nodeBuf.length < n) this.nodeBuf = new Int32Array(n);
    const words = new Uint32Array(found.keys.buffer, found.keys.byteOffset, 2 * n);
    for (let i = 0; i < n; i++) this.nodeBuf[i] = words[2 * i + LOW_WORD]!;
    return { nodes: this.nodeBuf.subarray(0, n), approx: found.distances };
  }

  /** Count exact distances the kernel computed for a {@link searchApprox}. */
  countEvaluations(n: number): void {
    this.evaluations += n;
  }

  save(file: string): void {
    this.index.save(file);
  }

  /** Replace the graph by one saved with {@link save} over the same rows. */
  load(file: string, nodes: number): void {
    this.index.load(file);
    this.nodes = nodes;
  }
}
