/**
 * A worker's saved index of one collection, so that a restart (or another worker on the same
 * data dir) loads the graph instead of building it again, then follows the change feed from the
 * version it was saved at.
 *
 * Two files per collection under the directory, named by a hash of the collection's name:
 * - `<hash>.usearch`: the usearch graph, as usearch writes it;
 * - `<hash>.index`: `FFIDX001`, a 4-byte header length, a JSON header (collection, gallery
 *   version, dim, slots, byte counts, CRC-32 of everything after the header and of the graph
 *   file), the faces of each slot as JSON (`[id, identity, pipeline]`, or null for a removed
 *   face), then the Float32 rows.
 *
 * Each is written to a temporary name and renamed, the graph first, so a reader never sees half
 * a file. A file whose magic, sizes or checksums do not hold is reported corrupt; one whose
 * version the change feed cannot answer from (the collection was made again, or the feed no
 * longer holds it) is stale. Either way the caller loads in full and saves again.
 */
import crypto from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { EnrolledFace } from '../store/ports.js';
import { toPipeline, type RecognitionPipeline } from '../recognition/types.js';
import type { SavedSlots } from '../recognition/gallery-index.js';

const MAGIC = Buffer.from('FFIDX001');

/** Called for each slot of a saved index, in order; `id` is null for a removed face's slot (then `identity` is ''). */
export type SavedFaceVisitor = (slot: number, id: string | null, identity: string, pipeline: RecognitionPipeline | null) => void;

export interface SavedIndex {
  collection: string;
  version: string;
  dim: number;
  /** Slots saved, tombstones included. */
  slots: number;
  /**
   * Visit each slot's face, in slot order. The faces are read from the file's text on each call
   * (a million faces are never held as arrays at once); throws Error when that text is not a
   * face list.
   */
  forEachFace(visit: SavedFaceVisitor): void;
  /** The rows of the slots in order, then room for more (zeros, not yet touched). */
  rows: Float32Array;
  graphFile: string;
}

interface Header {
  collection: string;
  version: string;
  dim: number;
  slots: number;
  facesBytes: number;
  rowsBytes: number;
  graphBytes: number;
  crc: number;
  graphCrc: number;
}

export function indexFiles(dir: string, collection: string): { index: string; graph: string } {
  const name = crypto.createHash('sha256').update(collection).digest('hex').slice(0, 32);
  return { index: path.join(dir, `${name}.index`), graph: path.join(dir, `${name}.usearch`) };
}

/** Slots whose faces are written as one piece of JSON: the text is made piece by piece, never for every face at once. */
const FACES_PER_PIECE = 8192;
/** Bytes read at a time when checking a graph file's checksum. */
const READ_CHUNK = 8 << 20;

/**
 * Save a collection's index: `writeGraph` writes the graph to the path it is given and returns
 * the slots, or null when there is nothing worth saving (then nothing is written).
 */
export function saveIndex(
  dir: string,
  collection: string,
  version: string,
  dim: number,
  pipelines: ReadonlyMap<string, RecognitionPipeline | undefined>,
  writeGraph: (file: string) => SavedSlots | null,
): boolean {
  fs.mkdirSync(dir, { recursive: true });
  const files = indexFiles(dir, collection);
  const tmp = `.tmp-${process.pid}-${Date.now()}`;
  const saved = writeGraph(files.graph + tmp);
  if (!saved) return false;
  try {
    const pieces: Buffer[] = [];
    for (let from = 0; from < saved.slots; from += FACES_PER_PIECE) {
      let text = from === 0 ? '[' : ',';
      for (let s = from; s < Math.min(saved.slots, from + FACES_PER_PIECE); s++) {
        const f = saved.faceAt(s);
        text += (s === from ? '' : ',') + JSON.stringify(f ? [f[0], f[1], pipelines.get(f[0]) ?? null] : null);
      }
      pieces.push(Buffer.from(text));
    }
    pieces.push(Buffer.from(saved.slots === 0 ? '[]' : ']'));
    const rows = Buffer.from(saved.rows.buffer, saved.rows.byteOffset, saved.rows.byteLength);
    let crc = 0;
    for (const piece of pieces) crc = zlib.crc32(piece, crc);
    crc = zlib.crc32(rows, crc);
    const facesBytes = pieces.reduce((n, p) => n + p.length, 0);
    const graphCrc = fileCrc(files.graph + tmp);
    const header: Header = { collection, version, dim, slots: saved.slots, facesBytes, rowsBytes: rows.length, graphBytes: fs.statSync(files.graph + tmp).size, crc, graphCrc };
    const headerJson = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(headerJson.length);
    const fd = fs.openSync(files.index + tmp, 'w');
    try {
      for (const piece of [MAGIC, length, headerJson, ...pieces, rows]) fs.writeSync(fd, piece);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(files.graph + tmp, files.graph);
    fs.renameSync(files.index + tmp, files.index);
    return true;
  } finally {
    fs.rmSync(files.graph + tmp, { force: true });
    fs.rmSync(files.index + tmp, { force: true });
  }
}

/** CRC-32 of a file, read a chunk at a time. */
function fileCrc(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let crc = 0;
    for (let n; (n = fs.readSync(fd, chunk, 0, READ_CHUNK, null)) > 0; ) crc = zlib.crc32(chunk.subarray(0, n), crc);
    return crc;
  } finally {
    fs.closeSync(fd);
  }
}

/** Read exactly `into.length` bytes at `position`; false when the file ends first. */
function readFully(fd: number, into: Uint8Array, position: number): boolean {
  for (let done = 0; done < into.length; ) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

/**
 * The saved index of a collection; null when there is none; throws Error (corrupt) when it does
 * not check out. The rows are read straight into the array the index then keeps, with room for
 * `spare` more rows (default an eighth more, at least 1,024), which costs no memory until used.
 */
export function readIndex(dir: string, collection: string, spare?: number): SavedIndex | null {
  const files = indexFiles(dir, collection);
  if (!fs.existsSync(files.index)) return null;
  const fd = fs.openSync(files.index, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const lead = Buffer.alloc(12);
    if (size < 12 || !readFully(fd, lead, 0) || !lead.subarray(0, 8).equals(MAGIC)) throw new Error('not an index file');
    const headerLength = lead.readUInt32LE(8);
    const headerBytes = Buffer.alloc(Math.min(headerLength, Math.max(0, size - 12)));
    readFully(fd, headerBytes, 12);
    const header = JSON.parse(headerBytes.toString('utf8')) as Header;
    const start = 12 + headerLength;
    if (header.collection !== collection) throw new Error(`index file is of collection ${header.collection}`);
    if (size !== start + header.facesBytes + header.rowsBytes || header.rowsBytes !== header.slots * header.dim * 4) throw new Error('index file is truncated');
    const facesJson = Buffer.alloc(header.facesBytes);
    const extra = spare ?? Math.max(1024, Math.ceil(header.slots / 8));
    const rows = new Float32Array((header.slots + extra) * header.dim);
    const rowBytes = new Uint8Array(rows.buffer, 0, header.rowsBytes);
    if (!readFully(fd, facesJson, start) || !readFully(fd, rowBytes, start + header.facesBytes)) throw new Error('index file is truncated');
    if (zlib.crc32(rowBytes, zlib.crc32(facesJson)) !== header.crc) throw new Error('index file checksum does not match');
    const graph = fs.statSync(files.graph, { throwIfNoEntry: false });
    if (!graph || graph.size !== header.graphBytes) throw new Error('graph file is missing or of the wrong size');
    if (fileCrc(files.graph) !== header.graphCrc) throw new Error('graph file checksum does not match');
    // A first pass only counts (no strings made): a face list that does not parse is corrupt here, not later.
    if (scanFaces(facesJson, null) !== header.slots) throw new Error('index file face count does not match');
    return {
      collection,
      version: header.version,
      dim: header.dim,
      slots: header.slots,
      forEachFace: (visit) => void scanFaces(facesJson, visit),
      rows,
      graphFile: files.graph,
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** A UTF-16 surrogate not in a pair: not an id a face can have. */
const LONE_SURROGATE = /\p{Cs}/u;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const NULL = Buffer.from('null');

/**
 * Walk the face list as {@link saveIndex} writes it, `[face,face,...]` with each face
 * `["id","identity","pipeline"|null]` or `null` and no white space, straight from its bytes:
 * one string per field, nothing per face beyond them. With no visitor nothing is made at all
 * and only the faces are counted. Returns how many there are; throws Error on anything else.
 */
function scanFaces(text: Buffer, visit: SavedFaceVisitor | null): number {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`index file face list does not parse at byte ${at}: ${what}`);
  };
  const expect = (byte: number) => {
    if (text[at] !== byte) fail(`expected ${String.fromCharCode(byte)}`);
    at += 1;
  };
  const isNull = () => text.length - at >= 4 && text[at] === NULL[0] && text[at + 1] === NULL[1] && text[at + 2] === NULL[2] && text[at + 3] === NULL[3];
  /**
   * The JSON string at `at` (its value only with a visitor). `faceId`: a lone surrogate is
   * refused, as the index refuses such a face id; other fields (identity names) may hold one.
   */
  const string = (faceId = false): string => {
    expect(QUOTE);
    const start = at;
    let escaped = false;
    let ascii = true;
    for (;;) {
      if (at >= text.length) fail('unterminated string');
      const b = text[at]!;
      if (b === QUOTE) break;
      if (b < 0x20) fail('a control character in a string');
      if (b === BACKSLASH) {
        escaped = true;
        at += 1;
      } else if (b >= 0x80) ascii = false;
      at += 1;
    }
    const end = at;
    at += 1;
    if (escaped) {
      // Rare (saveIndex escapes only what JSON must): parsed in the counting pass too, so that a
      // bad escape or a lone surrogate is refused here, with the rest of a corrupt list.
      let value = '';
      try {
        value = JSON.parse(text.toString('utf8', start - 1, end + 1)) as string;
      } catch {
        fail('a bad escape in a string');
      }
      if (faceId && LONE_SURROGATE.test(value)) fail('a lone surrogate in a face id');
      return value;
    }
    if (!ascii && !isUtf8(text.subarray(start, end))) fail('a string that is not UTF-8');
    if (!visit) return '';
    return text.toString(ascii ? 'latin1' : 'utf8', start, end);
  };
  let slot = 0;
  expect(OPEN);
  if (text[at] === CLOSE) at += 1;
  else {
    for (;;) {
      if (isNull()) {
        at += 4;
        visit?.(slot, null, '', null);
      } else {
        expect(OPEN);
        const id = string(true);
        expect(COMMA);
        const identity = string();
        expect(COMMA);
        let pipeline: string | null = null;
        if (isNull()) at += 4;
        else pipeline = string();
        expect(CLOSE);
        visit?.(slot, id, identity, pipeline === null ? null : toPipeline(pipeline));
      }
      slot += 1;
      if (text[at] === COMMA) at += 1;
      else {
        expect(CLOSE);
        break;
      }
    }
  }
  if (at !== text.length) fail('text after the list');
  return slot;
}

export function removeIndex(dir: string, collection: string): void {
  const files = indexFiles(dir, collection);
  fs.rmSync(files.index, { force: true });
  fs.rmSync(files.graph, { force: true });
}

/** The faces enrolled with another pipeline than `pipeline`, by id: what a save records of pipelines. */
export function otherPipelines(faces: readonly Pick<EnrolledFace, 'id' | 'pipeline'>[], pipeline: RecognitionPipeline, into = new Map<string, RecognitionPipeline | undefined>()): Map<string, RecognitionPipeline | undefined> {
  for (const f of faces) if (toPipeline(f.pipeline) !== pipeline) into.set(f.id, toPipeline(f.pipeline));
  return into;
}
