/**
 * The face id of each slot of a gallery index, and the slot of each id, in a few typed arrays
 * rather than a string per face and a Map: at a million faces, a `Map<string, number>` and an
 * array of id strings held some 60 MB of heap for 7-character ids and 90 MB for UUIDs; this holds
 * the ids' UTF-8 bytes end to end, three 32-bit words per slot and a hash table of slots.
 *
 * - An id's bytes are appended to `bytes`; a removed or replaced id leaves its bytes there until
 *   {@link FaceIds.compact}, which the kernel calls when it drops tombstones.
 * - The table is open addressing with linear probing, each cell a slot + 1 (0: empty, -1: a
 *   removed entry), kept at most half full. The hash is FNV-1a over the id's UTF-16 code units,
 *   kept per slot so that growing the table or moving a slot never reads the bytes.
 */
const EMPTY = 0;
const REMOVED = -1;
const NONE = -1;
/** A UTF-16 surrogate not in a pair. */
const LONE_SURROGATE = /\p{Cs}/u;

/** FNV-1a over the UTF-16 code units of `s`, as a signed 32-bit integer. */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

export class FaceIds {
  private bytes: Buffer;
  private end = 0;
  /** Per slot: where its id's bytes start, how many (-1: no id), and the id's hash. */
  private start: Int32Array;
  private length: Int32Array;
  private hash: Int32Array;
  private table = new Int32Array(16);
  /** Cells not empty (ids and removed entries). */
  private used = 0;
  private count = 0;

  constructor(slots = 16, bytes = slots * 8) {
    this.bytes = Buffer.alloc(Math.max(16, bytes));
    this.start = new Int32Array(Math.max(1, slots));
    this.length = new Int32Array(Math.max(1, slots)).fill(NONE);
    this.hash = new Int32Array(Math.max(1, slots));
  }

  /** Throws RangeError for an id that cannot be held: one with a lone surrogate, which UTF-8 cannot encode. */
  static check(id: string): void {
    if (LONE_SURROGATE.test(id)) throw new RangeError(`face id ${JSON.stringify(id)} is not well-formed UTF-16 (a lone surrogate)`);
  }

  /** Ids held. */
  get size(): number {
    return this.count;
  }

  /** The slot of `id`, or -1. */
  slotOf(id: string): number {
    const mask = this.table.length - 1;
    const h = hashOf(id);
    for (let c = h & mask; ; c = (c + 1) & mask) {
      const cell = this.table[c]!;
      if (cell === EMPTY) return NONE;
      if (cell !== REMOVED && this.hash[cell - 1] === h && this.equals(cell - 1, id)) return cell - 1;
    }
  }

  /** The id of `slot`, or undefined when it has none. */
  idAt(slot: number): string | undefined {
    if (slot >= this.length.length) return undefined;
    const n = this.length[slot]!;
    return n < 0 ? undefined : this.bytes.toString('utf8', this.start[slot]!, this.start[slot]! + n);
  }

  /**
   * Give `slot` (which has none) the id `id` (which no slot has). Throws RangeError for an id
   * with a lone surrogate, which UTF-8 cannot hold.
   */
  set(slot: number, id: string): void {
    FaceIds.check(id);
    const n = Buffer.byteLength(id, 'utf8');
    if (slot >= this.length.length) this.growSlots(slot + 1);
    if (this.end + n > this.bytes.length) {
      const bytes = Buffer.alloc(Math.max(2 * this.bytes.length, this.end + n));
      this.bytes.copy(bytes, 0, 0, this.end);
      this.bytes = bytes;
    }
    // Grown before the slot is filled in, so that the rehash does not insert it too.
    if ((this.used + 1) * 2 > this.table.length) this.rehash((this.count + 1) * 4 > this.table.length ? this.table.length * 2 : this.table.length);
    this.bytes.write(id, this.end, n, 'utf8');
    this.start[slot] = this.end;
    this.length[slot] = n;
    this.end += n;
    const h = hashOf(id);
    this.hash[slot] = h;
    this.insert(slot, h);
    this.count += 1;
  }

  /** Take `slot`'s id away (nothing when it has none). */
  clear(slot: number): void {
    if (slot >= this.length.length || this.length[slot]! < 0) return;
    this.table[this.cellOf(slot)] = REMOVED;
    this.length[slot] = NONE;
    this.count -= 1;
  }

  /**
   * Drop every slot without an id, the others moving down in order (as the kernel's rows do),
   * and the bytes of removed ids with them. Returns the slots left.
   */
  compact(slots: number): number {
    let to = 0;
    let end = 0;
    for (let from = 0; from < Math.min(slots, this.length.length); from++) {
      const n = this.length[from]!;
      if (n < 0) continue;
      // Bytes of later slots lie later, so copying down in slot order never overwrites one still to move.
      this.bytes.copyWithin(end, this.start[from]!, this.start[from]! + n);
      this.start[to] = end;
      this.length[to] = n;
      this.hash[to] = this.hash[from]!;
      end += n;
      to += 1;
    }
    this.length.fill(NONE, to);
    this.end = end;
    // Sized for the ids left (a gallery that shrank gets a smaller table), over the live slots only.
    let cells = 16;
    while (cells < to * 4) cells *= 2;
    this.rehash(cells, to);
    return to;
  }

  private equals(slot: number, id: string): boolean {
    const n = this.length[slot]!;
    // UTF-8 takes at least a byte for each UTF-16 code unit.
    if (n < id.length) return false;
    const o = this.start[slot]!;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c >= 0x80) return this.bytes.toString('utf8', o, o + n) === id;
      if (this.bytes[o + i] !== c) return false;
    }
    return n === id.length;
  }

  /** The table cell holding `slot`, which has an id. */
  private cellOf(slot: number): number {
    const mask = this.table.length - 1;
    for (let c = this.hash[slot]! & mask; ; c = (c + 1) & mask) if (this.table[c] === slot + 1) return c;
  }

  private insert(slot: number, h: number): void {
    const mask = this.table.length - 1;
    let c = h & mask;
    while (this.table[c] !== EMPTY && this.table[c] !== REMOVED) c = (c + 1) & mask;
    if (this.table[c] === EMPTY) this.used += 1;
    this.table[c] = slot + 1;
  }

  private rehash(cells: number, slots = this.length.length): void {
    if (cells === this.table.length) this.table.fill(EMPTY);
    else this.table = new Int32Array(cells);
    this.used = 0;
    for (let s = 0; s < slots; s++) if (this.length[s]! >= 0) this.insert(s, this.hash[s]!);
  }

  /** Table cells that hold an id (for tests: one per id). */
  cellsInUse(): number {
    let n = 0;
    for (const cell of this.table) if (cell > 0) n += 1;
    return n;
  }

  private growSlots(atLeast: number): void {
    const n = Math.max(atLeast, 2 * this.length.length);
    const start = new Int32Array(n);
    start.set(this.start);
    const length = new Int32Array(n).fill(NONE);
    length.set(this.length);
    const hash = new Int32Array(n);
    hash.set(this.hash);
    this.start = start;
    this.length = length;
    this.hash = hash;
  }
}
