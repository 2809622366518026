/**
 * Built ONNX graphs on disk: `<dir>/<name>.onnx` with `<name>.onnx.json` beside it recording the
 * file's SHA-256 and a fingerprint of the weights it was built from. A graph is used only when
 * both match; a missing, corrupt or stale graph is rebuilt from the weights and written again
 * (atomically: a temporary file renamed into place).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { Weight } from './descriptor-graph.js';

/** Bumped whenever a builder changes what it writes: old graphs then rebuild. */
export const GRAPH_FORMAT = 4;

export interface GraphMeta {
  format: number;
  /** {@link weightsFingerprint} of the weights the graph holds. */
  source: string;
  /** SHA-256 (hex) of the .onnx file. */
  sha256: string;
  bytes: number;
}

export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** A fingerprint of a net's weights (every tensor's shape and values, in order) and the builder format. */
export function weightsFingerprint(weights: Weight[]): string {
  const h = createHash('sha256').update(`facefleet-onnx/${GRAPH_FORMAT}`);
  for (const w of weights) {
    h.update(JSON.stringify(w.shape));
    h.update(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  }
  return h.digest('hex');
}

/** How a graph was obtained, for logs and tests. */
export type GraphOrigin = 'cached' | 'built' | 'rebuilt' | 'memory';

export interface StoredGraph {
  bytes: Uint8Array;
  origin: GraphOrigin;
  /** Why a stored graph was not used (`rebuilt` only). */
  reason?: string;
  file?: string;
}

export const graphFile = (dir: string, name: string): string => path.join(dir, `${name}.onnx`);

async function readStored(file: string, source: string): Promise<{ bytes?: Uint8Array; reason?: string; present: boolean }> {
  let metaText: string;
  try {
    metaText = await readFile(`${file}.json`, 'utf8');
  } catch {
    try {
      await readFile(file);
      return { present: true, reason: 'its checksum record is missing' };
    } catch {
      return { present: false };
    }
  }
  let meta: GraphMeta;
  try {
    meta = JSON.parse(metaText) as GraphMeta;
  } catch {
    return { present: true, reason: 'its checksum record is not valid JSON' };
  }
  if (meta.format !== GRAPH_FORMAT || meta.source !== source) return { present: true, reason: 'it was built from other weights or by another builder version' };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    return { present: true, reason: 'the graph file is missing' };
  }
  if (sha256(bytes) !== meta.sha256) return { present: true, reason: `its SHA-256 does not match the recorded ${meta.sha256.slice(0, 12)}... (corrupt or edited)` };
  return { present: true, bytes };
}

/**
 * The graph `name`: read from `dir` when its checksum and weights fingerprint match, else built
 * with `build` and stored. `dir` null keeps the graph in memory only. A graph that cannot be
 * written is still used from memory (with a warning): the store is a cache, not a requirement.
 */
export async function loadGraph(options: { dir: string | null; name: string; source: string; build: () => Uint8Array; log: Logger }): Promise<StoredGraph> {
  const { dir, name, source, build, log } = options;
  if (!dir) return { bytes: build(), origin: 'memory' };
  const file = graphFile(dir, name);
  const stored = await readStored(file, source);
  if (stored.bytes) return { bytes: stored.bytes, origin: 'cached', file };
  if (stored.reason) log.warn({ file, reason: stored.reason }, `ONNX graph ${name} is not usable; rebuilding it from the weights`);
  const t0 = performance.now();
  const bytes = build();
  const meta: GraphMeta = { format: GRAPH_FORMAT, source, sha256: sha256(bytes), bytes: bytes.length };
  try {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    await writeFile(`${file}.json.${process.pid}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(`${file}.json.${process.pid}.tmp`, `${file}.json`);
  } catch (err) {
    log.warn({ file, err: (err as Error).message }, `ONNX graph ${name} could not be stored; using it from memory`);
    return { bytes, origin: 'memory' };
  }
  log.info({ file, bytes: bytes.length, ms: Math.round(performance.now() - t0) }, `ONNX graph ${name} built`);
  return { bytes, origin: stored.present ? 'rebuilt' : 'built', reason: stored.reason, file };
}
