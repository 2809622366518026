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
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { EnrolledFace } from '../store/ports.js';
import { toPipeline, type RecognitionPipeline } from '../recognition/types.js';

const MAGIC = Buffer.from('FFIDX001');

export interface SavedIndex {
  collection: string;
  version: string;
  dim: number;
  faces: ({ id: string; identity: string; pipeline?: RecognitionPipeline } | null)[];
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
  writeGraph: (file: string) => { faces: ({ id: string; identity: string } | null)[]; rows: Float32Array } | null,
): boolean {
  fs.mkdirSync(dir, { recursive: true });
  const files = indexFiles(dir, collection);
  const tmp = `.tmp-${process.pid}-${Date.now()}`;
  const saved = writeGraph(files.graph + tmp);
  if (!saved) return false;
  try {
    const graph = fs.readFileSync(files.graph + tmp);
    const facesJson = Buffer.from(JSON.stringify(saved.faces.map((f) => (f ? [f.id, f.identity, pipelines.get(f.id) ?? null] : null))));
    const rows = Buffer.from(saved.rows.buffer, saved.rows.byteOffset, saved.rows.byteLength);
    const crc = zlib.crc32(rows, zlib.crc32(facesJson));
    const header: Header = { collection, version, dim, slots: saved.faces.length, facesBytes: facesJson.length, rowsBytes: rows.length, graphBytes: graph.length, crc, graphCrc: zlib.crc32(graph) };
    const headerJson = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(headerJson.length);
    fs.writeFileSync(files.index + tmp, Buffer.concat([MAGIC, length, headerJson, facesJson]));
    fs.appendFileSync(files.index + tmp, rows);
    fs.renameSync(files.graph + tmp, files.graph);
    fs.renameSync(files.index + tmp, files.index);
    return true;
  } finally {
    fs.rmSync(files.graph + tmp, { force: true });
    fs.rmSync(files.index + tmp, { force: true });
  }
}

/** The saved index of a collection; null when there is none; throws Error (corrupt) when it does not check out. */
export function readIndex(dir: string, collection: string): SavedIndex | null {
  const files = indexFiles(dir, collection);
  if (!fs.existsSync(files.index)) return null;
  const buf = fs.readFileSync(files.index);
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) throw new Error('not an index file');
  const headerLength = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + headerLength).toString('utf8')) as Header;
  const start = 12 + headerLength;
  if (header.collection !== collection) throw new Error(`index file is of collection ${header.collection}`);
  if (buf.length !== start + header.facesBytes + header.rowsBytes || header.rowsBytes !== header.slots * header.dim * 4) throw new Error('index file is truncated');
  const facesJson = buf.subarray(start, start + header.facesBytes);
  const rowBytes = buf.subarray(start + header.facesBytes);
  if (zlib.crc32(rowBytes, zlib.crc32(facesJson)) !== header.crc) throw new Error('index file checksum does not match');
  const graph = fs.statSync(files.graph, { throwIfNoEntry: false });
  if (!graph || graph.size !== header.graphBytes) throw new Error('graph file is missing or of the wrong size');
  if (zlib.crc32(fs.readFileSync(files.graph)) !== header.graphCrc) throw new Error('graph file checksum does not match');
  const raw = JSON.parse(facesJson.toString('utf8')) as ([string, string, RecognitionPipeline | null] | null)[];
  if (raw.length !== header.slots) throw new Error('index file face count does not match');
  // A copy, aligned for Float32Array whatever the offset in the file.
  const rows = new Float32Array(header.slots * header.dim);
  new Uint8Array(rows.buffer).set(rowBytes);
  return {
    collection,
    version: header.version,
    dim: header.dim,
    faces: raw.map((f) => (f ? { id: f[0], identity: f[1], ...(f[2] ? { pipeline: f[2] } : {}) } : null)),
    rows,
    graphFile: files.graph,
  };
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
