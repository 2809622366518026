/**
 * A cache of descriptors for every LFW image, so 1:N benchmarks (and backend comparisons)
 * describe the 13,233 images once.
 *
 * Format: one JSON Lines file per shard, `<dir>/lfw-<pipeline>-descriptors.shard-<k>-of-<n>.jsonl`,
 * one line per image, appended as each image is described (a crash loses at most the line being
 * written; a rerun skips the images already there, and ignores a torn last line):
 *
 *   {"image":"Aaron_Eckhart/Aaron_Eckhart_0001.jpg","person":"Aaron_Eckhart","width":250,"height":250,
 *    "subject":0,"faces":[{"box":{"x":..,"y":..,"width":..,"height":..},"score":0.99,"descriptor":"<base64>"}]}
 *
 * - `image`: path relative to `<lfw>/images`, `/`-separated; `person` is its folder.
 * - `faces`: every face the engine found, largest first (as `Engine.analyze` returns them).
 * - `descriptor`: the 128 float32 values, little-endian, base64 (exact, 684 characters).
 * - `subject`: index into `faces` of the LFW subject, the face whose box centre is nearest the
 *   image centre (bench-lfw's `--pick center`; LFW crops are centred on the person named), or
 *   null when no face was found.
 * - A line `{"image":...,"error":"..."}` records an image the engine rejected.
 *
 * Images are described person by person, people in a fixed shuffled order ({@link describeOrder}),
 * and shard k/n takes people i % n === k. So a partial cache holds every image of a random subset
 * of people, which a benchmark can use as a smaller, unbiased LFW (`completePeople`).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { seededRandom } from '../../src/random.js';
import { readPairs } from './lfw.js';
import type { AnalyzedImage, Box, DetectedFace } from '../../src/recognition/types.js';

export interface CachedFace {
  box: Box;
  score: number;
  descriptor: Float32Array;
}

export interface CachedImage {
  image: string;
  person: string;
  width: number;
  height: number;
  subject: number | null;
  faces: CachedFace[];
  error?: string;
}

export function encodeDescriptor(d: Float32Array): string {
  const le = new Float32Array(d);
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString('base64');
}

export function decodeDescriptor(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

/** Index of the face whose box centre is nearest the image centre, or null. */
export function centreFace(a: { width: number; height: number; faces: Array<{ box: Box }> }): number | null {
  if (a.faces.length === 0) return null;
  const d = (f: { box: Box }) => Math.hypot(f.box.x + f.box.width / 2 - a.width / 2, f.box.y + f.box.height / 2 - a.height / 2);
  let best = 0;
  a.faces.forEach((f, i) => {
    if (d(f) < d(a.faces[best])) best = i;
  });
  return best;
}

/** Every LFW image, relative to `<lfw>/images`, sorted. */
export async function listLfwImages(lfw: string): Promise<string[]> {
  const root = path.join(lfw, 'images');
  const people = (await fsp.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  const out: string[] = [];
  for (const p of people) for (const f of await fsp.readdir(path.join(root, p))) if (f.endsWith('.jpg')) out.push(`${p}/${f}`);
  return out.sort();
}

/** The images of LFW View 2's pairs (7,701), relative to `<lfw>/images`. */
export async function view2Images(lfw: string): Promise<Set<string>> {
  const root = path.join(lfw, 'images') + path.sep;
  const out = new Set<string>();
  for (const fold of await readPairs(lfw)) for (const p of fold) for (const f of [p.a, p.b]) out.add(f.slice(root.length).split(path.sep).join('/'));
  return out;
}

/** People in the order they are described: sorted by name, then shuffled with a fixed seed. */
export function describeOrder(images: string[]): string[][] {
  const byPerson = new Map<string, string[]>();
  for (const im of images) {
    const p = im.split('/')[0];
    byPerson.set(p, [...(byPerson.get(p) ?? []), im]);
  }
  const people = [...byPerson.keys()].sort();
  const rnd = seededRandom(0x1f3);
  for (let i = people.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [people[i], people[j]] = [people[j], people[i]];
  }
  return people.map((p) => byPerson.get(p)!);
}

/** The people all of whose images are in the cache. */
export function completePeople(images: string[], cache: Map<string, CachedImage>): Set<string> {
  const out = new Set<string>();
  for (const group of describeOrder(images)) if (group.every((im) => cache.has(im))) out.add(group[0].split('/')[0]);
  return out;
}

export function shardFile(dir: string, pipeline: string, k: number, n: number): string {
  return path.join(dir, `lfw-${pipeline}-descriptors.shard-${k}-of-${n}.jsonl`);
}

function parseLine(line: string): CachedImage | null {
  try {
    const o = JSON.parse(line) as Omit<CachedImage, 'faces'> & { faces?: Array<{ box: Box; score: number; descriptor: string }> };
    return { ...o, faces: (o.faces ?? []).map((f) => ({ ...f, descriptor: decodeDescriptor(f.descriptor) })) } as CachedImage;
  } catch {
    return null; // a torn last line from an interrupted run
  }
}

/** Every cached image in `dir` for `pipeline`, from all shard files there (any n). */
export async function readCache(dir: string, pipeline: string): Promise<Map<string, CachedImage>> {
  const out = new Map<string, CachedImage>();
  if (!fs.existsSync(dir)) return out;
  const prefix = `lfw-${pipeline}-descriptors.shard-`;
  for (const f of (await fsp.readdir(dir)).filter((f) => f.startsWith(prefix) && f.endsWith('.jsonl')).sort()) {
    for (const line of (await fsp.readFile(path.join(dir, f), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const c = parseLine(line);
      if (c) out.set(c.image, c);
    }
  }
  return out;
}

export function toCached(image: string, analyzed: AnalyzedImage): CachedImage {
  const faces = analyzed.faces.map((f: DetectedFace) => ({ box: { ...f.box }, score: f.score, descriptor: f.descriptor }));
  return { image, person: image.split('/')[0], width: analyzed.width, height: analyzed.height, subject: centreFace(analyzed), faces };
}

/**
 * Describe the images of shard k/n missing from the cache, appending each as it is done.
 * `analyze` is the engine's; a rejected image is recorded with its error, not retried.
 */
export async function fillShard(options: {
  lfw: string; dir: string; pipeline: string; k: number; n: number;
  analyze: (image: Buffer) => Promise<AnalyzedImage>;
  have: Set<string>;
  /** Describe only these images (relative to `<lfw>/images`), e.g. View 2's ({@link view2Images}). */
  only?: Set<string>;
  progress?: (done: number, total: number) => void;
}): Promise<number> {
  const { lfw, dir, pipeline, k, n } = options;
  const todo = describeOrder(await listLfwImages(lfw)).filter((_, i) => i % n === k).flat().filter((f) => !options.have.has(f) && (!options.only || options.only.has(f)));
  await fsp.mkdir(dir, { recursive: true });
  const file = shardFile(dir, pipeline, k, n);
  // Start on a fresh line if an earlier run was cut mid-line.
  if (fs.existsSync(file)) {
    const text = await fsp.readFile(file, 'utf8');
    if (text.length && !text.endsWith('\n')) await fsp.appendFile(file, '\n');
  }
  const out = fs.openSync(file, 'a');
  try {
    for (const [i, image] of todo.entries()) {
      let line: string;
      try {
        const c = toCached(image, await options.analyze(await fsp.readFile(path.join(lfw, 'images', image))));
        line = JSON.stringify({ ...c, faces: c.faces.map((f) => ({ ...f, descriptor: encodeDescriptor(f.descriptor) })) });
      } catch (err) {
        line = JSON.stringify({ image, person: image.split('/')[0], width: 0, height: 0, subject: null, faces: [], error: (err as Error).message });
      }
      fs.writeSync(out, line + '\n');
      options.progress?.(i + 1, todo.length);
    }
  } finally {
    fs.closeSync(out);
  }
  return todo.length;
}
