/** The beam search's priority queues for ./hnsw.ts. */

/** A binary heap of (distance, node) in typed arrays; `max` orders the largest first. */
export class Heap {
  d = new Float64Array(64);
  n = new Int32Array(64);
  size = 0;
  constructor(private readonly max: boolean) {}

  clear(): void {
    this.size = 0;
  }

  private above(a: number, b: number): boolean {
    return this.max ? this.d[a]! > this.d[b]! : this.d[a]! < this.d[b]!;
  }

  private swap(a: number, b: number): void {
    const d = this.d[a]!;
    this.d[a] = this.d[b]!;
    this.d[b] = d;
    const n = this.n[a]!;
    this.n[a] = this.n[b]!;
    this.n[b] = n;
  }

  push(dist: number, node: number): void {
    if (this.size === this.d.length) {
      const d = new Float64Array(this.size * 2);
      d.set(this.d);
      this.d = d;
      const n = new Int32Array(this.size * 2);
      n.set(this.n);
      this.n = n;
    }
    let i = this.size++;
    this.d[i] = dist;
    this.n[i] = node;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): void {
    this.size -= 1;
    if (this.size === 0) return;
    this.d[0] = this.d[this.size]!;
    this.n[0] = this.n[this.size]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const c = l + 1 < this.size && this.above(l + 1, l) ? l + 1 : l;
      if (!this.above(c, i)) break;
      this.swap(c, i);
      i = c;
    }
  }
}
