/**
 * The image sets the load benchmarks replay: the 1,000 CSE546 64x64 crops (with their
 * expected names), or the first LFW images of fold 1 (250x250, one face each, no expected name).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadCse546 } from './cse546.js';
import { resolveLfwDir, readPairs } from './lfw.js';

export type ImageSetName = 'cse546' | 'lfw';

export interface BenchImage {
  file: string;
  buffer: Buffer;
  type: string;
  /** The expected classic answer's name (CSE546 only). */
  name?: string;
}

/** `count` caps LFW (default 200); CSE546 is always its 1,000 files. `lfwDir` as from `resolveLfwDir` (its default). */
export async function loadImageSet(set: ImageSetName, options: { count?: number; lfwDir?: string } = {}): Promise<BenchImage[]> {
  const count = options.count ?? 200;
  if (set === 'cse546') return (await loadCse546()).map((c) => ({ file: c.file, buffer: c.buffer, type: 'image/jpeg', name: c.name }));
  if (set !== 'lfw') throw new Error(`--images must be cse546 or lfw, got ${JSON.stringify(set)}`);
  const pairs = await readPairs(options.lfwDir ?? resolveLfwDir());
  const files = [...new Set(pairs[0].flatMap((p) => [p.a, p.b]))].slice(0, count);
  return Promise.all(files.map(async (f) => ({ file: path.basename(f), buffer: await fs.readFile(f), type: 'image/jpeg' })));
}
