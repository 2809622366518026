/**
 * The CSE546 load-test workload: 1,000 64x64 JPEGs in a zip (ten distinct images, each
 * repeated 100 times) and the expected name per file. Read straight from the zip, never
 * extracted, so tests and benchmarks can share it without touching the data folder.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';

export interface Cse546Image {
  /** File name inside the zip, e.g. `test_000.jpg`. */
  file: string;
  /** Expected identity from `classification_results_1000.csv`, e.g. `Paul`. */
  name: string;
  buffer: Buffer;
}

/** `examples/cse546` resolved from the repository root (the working directory of tests and benchmarks). */
export function cse546Dir(root = process.cwd()): string {
  return path.resolve(root, 'examples', 'cse546');
}

function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error(`cannot open ${file}`));
      const out = new Map<string, Buffer>();
      zip.on('error', reject);
      zip.on('end', () => resolve(out));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error(`cannot read ${entry.fileName}`));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            out.set(path.posix.basename(entry.fileName), Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

async function readCsv(file: string): Promise<Map<string, string>> {
  const text = await fs.readFile(file, 'utf8');
  const names = new Map<string, string>();
  for (const line of text.split(/\r?\n/).slice(1)) {
    const [image, name] = line.split(',').map((s) => s.trim());
    if (image && name) names.set(image.replace(/\.jpg$/i, ''), name);
  }
  return names;
}

/** All 1,000 images, sorted by file name, each with its expected name. */
export async function loadCse546(dir = cse546Dir()): Promise<Cse546Image[]> {
  const [files, names] = await Promise.all([readZip(path.join(dir, 'face_images_1000.zip')), readCsv(path.join(dir, 'classification_results_1000.csv'))]);
  const out: Cse546Image[] = [];
  for (const [file, buffer] of files) {
    if (!/\.jpe?g$/i.test(file)) continue;
    const name = names.get(file.replace(/\.jpe?g$/i, ''));
    if (!name) throw new Error(`no expected name for ${file} in classification_results_1000.csv`);
    out.push({ file, name, buffer });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** The distinct images (by SHA-256 of their bytes), first file of each, in file order. */
export async function distinctCse546(dir = cse546Dir()): Promise<Array<Cse546Image & { hash: string; copies: number }>> {
  const byHash = new Map<string, Cse546Image & { hash: string; copies: number }>();
  for (const img of await loadCse546(dir)) {
    const hash = createHash('sha256').update(img.buffer).digest('hex');
    const seen = byHash.get(hash);
    if (seen) seen.copies++;
    else byHash.set(hash, { ...img, hash, copies: 1 });
  }
  return [...byHash.values()];
}
