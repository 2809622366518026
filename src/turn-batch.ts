/**
 * Collects items added during one turn of the event loop and hands them to `flush` together at
 * the next `setImmediate` (the local job store's group commit uses it).
 */
export class TurnBatch<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Flush what is waiting now (also what the scheduled flush does); nothing when empty. */
  drain(): void {
    this.scheduled = false;
    const batch = this.items;
    this.items = [];
    if (batch.length > 0) this.flush(batch);
  }
}
