/** The saved index file: its face list is read back slot by slot, exactly as written, and a damaged one is refused. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexFiles, readIndex, saveIndex } from '../../src/worker/index-file.js';
import type { RecognitionPipeline } from '../../src/recognition/types.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-idx-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Save `faces` (null: a tombstone) with 2-dimensional rows `[slot, -slot]` and a stand-in graph file. */
function save(faces: ([string, string] | null)[], pipelines = new Map<string, RecognitionPipeline | undefined>()): void {
  const rows = new Float32Array(faces.length * 2);
  faces.forEach((_, s) => rows.set([s, -s], 2 * s));
  const wrote = saveIndex(dir, 'c', 'v7', 2, pipelines, (file) => {
    fs.writeFileSync(file, 'graph bytes');
    return { slots: faces.length, faceAt: (s) => faces[s]!, rows };
  });
  expect(wrote).toBe(true);
}

function readBack(): { slot: number; id: string | null; identity: string; pipeline: string | null }[] {
  const saved = readIndex(dir, 'c', 0)!;
  const got: { slot: number; id: string | null; identity: string; pipeline: string | null }[] = [];
  saved.forEachFace((slot, id, identity, pipeline) => got.push({ slot, id, identity, pipeline }));
  expect(got.length).toBe(saved.slots);
  return got;
}

describe('saved index file', () => {
  it('gives back every slot in order: ids and names with quotes, backslashes, control and non-ASCII characters, tombstones, pipelines', () => {
    const faces: ([string, string] | null)[] = [
      ['f1', 'alice'],
      null,
      ['f"2', 'bob \\ "the" builder'],
      ['f3', 'Zoë Ångström 李'],
      ['f\n4\t', '😀 emoji'],
      null,
      ['', ''],
      ['f,]7', '[null]'],
      // An identity name may hold a lone surrogate (only face ids may not): it reads back as saved.
      ['f8', 'half \uDC00 pair'],
    ];
    save(faces, new Map([['f3', 'quality' as RecognitionPipeline], ['f1', undefined]]));
    const got = readBack();
    expect(got).toEqual(
      faces.map((f, slot) => ({ slot, id: f ? f[0] : null, identity: f ? f[1] : '', pipeline: f?.[0] === 'f3' ? 'quality' : null })),
    );
    const saved = readIndex(dir, 'c', 0)!;
    expect(saved).toMatchObject({ version: 'v7', dim: 2, slots: 9 });
    expect(Array.from(saved.rows)).toEqual(faces.flatMap((_, s) => [s, -s]));
    // Read twice: the same faces again.
    expect(readBack()).toEqual(got);
  });

  it('reads an empty list and one of many pieces', () => {
    save([]);
    expect(readBack()).toEqual([]);
    const many = Array.from({ length: 20_000 }, (_, i): [string, string] | null => (i % 7 === 3 ? null : [`face-${i}`, `person-${i % 1000}`]));
    save(many);
    const got = readBack();
    expect(got.length).toBe(20_000);
    expect(got[19_999]).toEqual({ slot: 19_999, id: 'face-19999', identity: 'person-999', pipeline: null });
    expect(got.filter((f) => f.id === null).length).toBe(many.filter((f) => f === null).length);
  });

  it('refuses a face list that is not one, even when its checksum holds', () => {
    save([['f1', 'alice']]);
    const file = indexFiles(dir, 'c').index;
    const bytes = fs.readFileSync(file);
    const headerLength = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString()) as { crc: number; facesBytes: number };
    const start = 12 + headerLength;
    const rows = bytes.subarray(start + header.facesBytes);
    expect(bytes.subarray(start, start + header.facesBytes).toString()).toBe('[["f1","alice",null]]');
    /** The file with `list` as its face list, its length and checksum made to match. */
    const withList = (list: string) => {
      const faces = Buffer.from(list, 'latin1');
      const crc = zlib.crc32(rows, zlib.crc32(faces));
      const newHeader = Buffer.from(JSON.stringify({ ...header, crc, facesBytes: faces.length }));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(newHeader.length);
      fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, 8), length, newHeader, faces, rows]));
    };
    withList('[["f1","alice",null]]');
    expect(readIndex(dir, 'c', 0)?.slots).toBe(1);
    for (const [what, list] of [
      ['a brace for a bracket', '[["f1","alice",null}]'],
      ['a bad escape', '[["f\\x1","alice",null]]'],
      ['a short unicode escape', '[["f\\u12","alice",null]]'],
      ['a lone surrogate in a face id', '[["f\\udc00","alice",null]]'],
      ['a raw control byte', '[["f\u00011","alice",null]]'],
      ['an unterminated string', '[["f1,"alice",null]]'],
      ['a trailing backslash', '[["f1\\'],
      ['text after the list', '[["f1","alice",null]]x'],
      ['a number for a string', '[[1,"alice",null]]'],
      ['bytes that are not UTF-8', '[["f\u00ff1","alice",null]]'],
    ] as const) {
      withList(list);
      expect(() => readIndex(dir, 'c', 0), what).toThrow(/face list does not parse|face count/);
    }
  });

  it('refuses a file whose face list was changed behind its checksum', () => {
    save([['f1', 'alice']]);
    const file = indexFiles(dir, 'c').index;
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf('alice');
    bytes[at] = 'A'.charCodeAt(0);
    fs.writeFileSync(file, bytes);
    expect(() => readIndex(dir, 'c', 0)).toThrow(/checksum/);
  });
});
