/**
 * Removing an identity writes `remove-faces` log entries naming its faces by id. One DynamoDB
 * item holds at most 400 KB, so an identity of many faces needs several entries.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REMOVE_FACES_PER_ENTRY, removeFacesEntries } from '../../../src/store/aws/dynamo-collection-gallery.js';

const DYNAMO_ITEM_LIMIT = 400 * 1024;

describe('removeFacesEntries', () => {
  it('splits 10,001 face ids into entries that each fit in one item, covering every id once', () => {
    const ids = Array.from({ length: 10_001 }, () => randomUUID());
    const entries = removeFacesEntries(ids);
    expect(entries.length).toBe(Math.ceil(10_001 / REMOVE_FACES_PER_ENTRY));
    for (const e of entries) {
      expect(e.op).toBe('remove-faces');
      // The item also holds pk, sk and at: well under 1 KB.
      expect(Buffer.byteLength(JSON.stringify(e)) + 1024).toBeLessThan(DYNAMO_ITEM_LIMIT);
    }
    expect(entries.flatMap((e) => e.faceIds)).toEqual(ids);
  });

  it('writes nothing for no faces, and one entry for a few', () => {
    expect(removeFacesEntries([])).toEqual([]);
    expect(removeFacesEntries(['a', 'b'])).toEqual([{ op: 'remove-faces', faceIds: ['a', 'b'] }]);
    expect(removeFacesEntries(['a', 'b', 'c'], 2).map((e) => e.faceIds)).toEqual([['a', 'b'], ['c']]);
  });
});
