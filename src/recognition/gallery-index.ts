import type { Candidate } from './types.js';

/** What the index needs of a face. */
export interface IndexedFace {
  id: string;
  identity: string;
  descriptor: ArrayLike<number>;
}

const INITIAL_CAPACITY = 1024;

/**
 * An exact nearest-identity index over face descriptors, kept current by `add` and `remove`.
 *
 * Rows live in one contiguous Float32Array (grown by doubling), so a query is one pass over
 * memory with no allocation per face: squared distances are folded into a per-identity minimum
 * (an identity's distance is that of its nearest face), and the k nearest identities are picked
 * by insertion into a k-slot list, not by sorting every identity. A removed row is filled with
 * the last row, so removal is O(dimensions).
 */
export class GalleryIndexKernel {
  readonly dim: number;
  private rows: Float32Array;
  private rowIdentity: Int32Array;
  private rowFace: string[] = [];
  private readonly rowOf = new Map<string, number>();
  private count = 0;
  private readonly identityIndex = new Map<string, number>();
  private identityNames: string[] = [];
  private identityFaces: Int32Array;
  private best: Float64Array;

  constructor(dim = 128, capacity = INITIAL_CAPACITY) {
    this.dim = dim;
    const cap = Math.max(1, capacity);
    this.rows = new Float32Array(cap * dim);
    this.rowIdentity = new Int32Array(cap);
    this.identityFaces = new Int32Array(64);
    this.best = new Float64Array(64);
  }

  /** Faces indexed. */
  get size(): number {
    return this.count;
  }

  /** Identities with at least one face. */
  get identities(): number {
    let n = 0;
    for (let i = 0; i < this.identityNames.length; i++) if (this.identityFaces[i]! > 0) n += 1;
    return n;
  }

  /** True when a face of this id is indexed. */
  has(faceId: string): boolean {
    return this.rowOf.has(faceId);
  }

  /** Add a face; a face id already present is replaced. Throws RangeError on a wrong length. */
  add(face: IndexedFace): void {
    if (face.descriptor.length !== this.dim) {
      throw new RangeError(`face ${face.id} of ${face.identity} has ${face.descriptor.length} dimensions, expected ${this.dim}`);
    }
    if (this.rowOf.has(face.id)) this.remove(face.id);
    if (this.count === this.rowIdentity.length) this.grow();
    const row = this.count++;
    this.rows.set(face.descriptor, row * this.dim);
    const ord = this.identityOrdinal(face.identity);
    this.rowIdentity[row] = ord;
    this.identityFaces[ord] = this.identityFaces[ord]! + 1;
    this.rowFace[row] = face.id;
    this.rowOf.set(face.id, row);
  }

  /** Remove one face. False when it is not indexed. */
  remove(faceId: string): boolean {
    const row = this.rowOf.get(faceId);
    if (row === undefined) return false;
    const last = this.count - 1;
    const ord = this.rowIdentity[row]!;
    this.identityFaces[ord] = this.identityFaces[ord]! - 1;
    if (row !== last) {
      this.rows.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.rowIdentity[row] = this.rowIdentity[last]!;
      const moved = this.rowFace[last]!;
      this.rowFace[row] = moved;
      this.rowOf.set(moved, row);
    }
    this.rowFace.length = last;
    this.rowOf.delete(faceId);
    this.count = last;
    return true;
  }

  /** Remove every face of an identity. Returns how many were removed. */
  removeIdentity(identity: string): number {
    const ord = this.identityIndex.get(identity);
    if (ord === undefined || this.identityFaces[ord] === 0) return 0;
    const ids: string[] = [];
    for (let r = 0; r < this.count; r++) if (this.rowIdentity[r] === ord) ids.push(this.rowFace[r]!);
    for (const id of ids) this.remove(id);
    return ids.length;
  }

  /**
   * The `k` nearest distinct identities, nearest first (ties by name), with Euclidean
   * distances. Throws RangeError when the descriptor's length is not the index's.
   */
  nearest(descriptor: ArrayLike<number>, k: number): Candidate[] {
    if (this.count === 0 || k <= 0) return [];
    if (descriptor.length !== this.dim) throw new RangeError(`descriptor has ${descriptor.length} dimensions, expected ${this.dim}`);
    const dim = this.dim;
    const rows = this.rows;
    const ids = this.rowIdentity;
    const best = this.best;
    const identities = this.identityNames.length;
    best.fill(Infinity, 0, identities);
    const q = descriptor instanceof Float32Array ? descriptor : Float32Array.from(descriptor);
    const tail = dim - (dim % 4);
    for (let r = 0, o = 0; r < this.count; r++, o += dim) {
      // Four running sums let the engine pipeline the multiply-adds.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let j = 0;
      for (; j < tail; j += 4) {
        const d0 = q[j]! - rows[o + j]!;
        const d1 = q[j + 1]! - rows[o + j + 1]!;
        const d2 = q[j + 2]! - rows[o + j + 2]!;
        const d3 = q[j + 3]! - rows[o + j + 3]!;
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
      }
      for (; j < dim; j++) {
        const d = q[j]! - rows[o + j]!;
        s0 += d * d;
      }
      const s = s0 + s1 + s2 + s3;
      const id = ids[r]!;
      if (s < best[id]!) best[id] = s;
    }
    return this.selectK(Math.min(k, identities));
  }

  private selectK(k: number): Candidate[] {
    const best = this.best;
    const names = this.identityNames;
    const topD = new Float64Array(k);
    const topI = new Int32Array(k);
    let filled = 0;
    for (let id = 0; id < names.length; id++) {
      const d = best[id]!;
      if (d === Infinity) continue;
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
    if (ord === this.identityFaces.length) {
      const faces = new Int32Array(ord * 2);
      faces.set(this.identityFaces);
      this.identityFaces = faces;
      this.best = new Float64Array(ord * 2);
    }
    return ord;
  }

  private grow(): void {
    const cap = this.rowIdentity.length * 2;
    const rows = new Float32Array(cap * this.dim);
    rows.set(this.rows.subarray(0, this.count * this.dim));
    this.rows = rows;
    const ids = new Int32Array(cap);
    ids.set(this.rowIdentity.subarray(0, this.count));
    this.rowIdentity = ids;
  }
}

function before(d: number, name: string, otherD: number, otherName: string): boolean {
  return d < otherD || (d === otherD && name.localeCompare(otherName) < 0);
}

/** An index over `faces`, sized for them. */
export function buildGalleryIndex(faces: readonly IndexedFace[], dim = faces[0]?.descriptor.length ?? 128): GalleryIndexKernel {
  const index = new GalleryIndexKernel(dim, faces.length);
  for (const f of faces) index.add(f);
  return index;
}
