/** A gallery index's face ids in typed arrays: the same answers as a Map and an array of strings, through removals and compactions. */
import { describe, expect, it } from 'vitest';
import { FaceIds } from '../../src/recognition/face-ids.js';
import { seededRandom as rng } from '../../src/random.js';

describe('FaceIds', () => {
  it('agrees with a Map through sets, clears and compactions, for ASCII, non-ASCII, empty and colliding-looking ids', () => {
    const r = rng(3);
    const ids = new FaceIds(2, 4);
    let bySlot: (string | undefined)[] = [];
    const names = (i: number) => [`f${i}`, `Zoë-${i}`, `李${i}`, `${i}😀`, `f${i}\u0000x`, `é${i}`][i % 6]!;
    let slots = 0;
    let next = 0;
    const check = () => {
      const want = new Map<string, number>();
      bySlot.forEach((id, s) => id !== undefined && want.set(id, s));
      expect(ids.size).toBe(want.size);
      expect(ids.cellsInUse()).toBe(want.size);
      for (let s = 0; s < slots; s++) expect(ids.idAt(s)).toBe(bySlot[s]);
      for (const [id, s] of want) expect(ids.slotOf(id)).toBe(s);
      // Ids never set, or taken away, are not found; nor is a prefix or an extension of one.
      for (let k = 0; k < 50; k++) {
        const id = names(next + 1000 + k);
        expect(ids.slotOf(id)).toBe(-1);
      }
      expect(ids.slotOf('f')).toBe(want.get('f') ?? -1);
    };
    ids.set(slots++, '');
    bySlot.push('');
    for (let round = 0; round < 6; round++) {
      for (let n = 0; n < 1500; n++) {
        const roll = r();
        const live = bySlot.map((id, s) => (id === undefined ? -1 : s)).filter((s) => s >= 0);
        if (roll < 0.3 && live.length > 0) {
          const s = live[Math.floor(r() * live.length)]!;
          ids.clear(s);
          bySlot[s] = undefined;
        } else {
          const id = names(next++);
          ids.set(slots++, id);
          bySlot.push(id);
        }
      }
      check();
      slots = ids.compact(slots);
      bySlot = bySlot.filter((id) => id !== undefined);
      expect(slots).toBe(bySlot.length);
      check();
    }
    // Cleared twice, or past the end: nothing happens.
    ids.clear(0);
    ids.clear(0);
    ids.clear(10 * slots);
    expect(ids.idAt(10 * slots)).toBeUndefined();
    // An id UTF-8 cannot hold is refused, and nothing of it is kept.
    const before = ids.size;
    expect(() => ids.set(slots, 'half \uD83D pair')).toThrow(RangeError);
    expect(ids.size).toBe(before);
    expect(ids.idAt(slots)).toBeUndefined();
  });

  it('tells apart ids whose hashes are equal (FNV-1a collisions)', () => {
    const ids = new FaceIds();
    const pairs = [['costarring', 'liquid'], ['altarage', 'zinke'], ['declinate', 'macallums']];
    pairs.flat().forEach((id, s) => ids.set(s, id));
    pairs.flat().forEach((id, s) => expect(ids.slotOf(id), id).toBe(s));
    ids.clear(0);
    expect(ids.slotOf('costarring')).toBe(-1);
    expect(ids.slotOf('liquid')).toBe(1);
    expect(ids.cellsInUse()).toBe(5);
  });
});
