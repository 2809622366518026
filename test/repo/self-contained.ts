/**
 * Finds references to the development workspace's data folder, `shared/` one level above the
 * checkout, in a checkout. A clone has no such folder beside it, so nothing may read from it;
 * the one exception is LFW's fallback location (its `data/lfw`), which the benchmarks use only
 * when it exists. The patterns are spelled in pieces so that this file does not match itself.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface SharedReference {
  file: string;
  line: number;
  text: string;
}

const SHARED = 'shared';
/** The folder as a path (dot-dot, slash, shared), or as path segments (quoted dot-dot, then quoted shared). */
const REFERENCE = new RegExp(String.raw`\.\.[\\/]${SHARED}\b|['"\x60]\.\.['"\x60]\s*,\s*['"\x60]${SHARED}['"\x60]`);
/** The LFW fallback, in either spelling. */
const LFW_FALLBACK = new RegExp(String.raw`\.\.[\\/]${SHARED}[\\/]data[\\/]lfw\b|['"\x60]\.\.['"\x60]\s*,\s*['"\x60]${SHARED}['"\x60]\s*,\s*['"\x60]data['"\x60]\s*,\s*['"\x60]lfw['"\x60]`, 'g');

/** The lines of `text` that refer to the shared folder for anything but the LFW fallback. */
export function sharedReferences(text: string, file = '<text>'): SharedReference[] {
  const out: SharedReference[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (REFERENCE.test(line.replace(LFW_FALLBACK, ''))) out.push({ file, line: i + 1, text: line.trim() });
  }
  return out;
}

/** Every reference under `root`'s `dirs` (recursively) and its `files`, as paths relative to `root`. */
export async function scanCheckout(root: string, dirs: string[], files: string[]): Promise<SharedReference[]> {
  const paths: string[] = [...files];
  for (const dir of dirs) {
    const entries = await fs.readdir(path.join(root, dir), { withFileTypes: true, recursive: true }).catch(() => []);
    for (const e of entries) if (e.isFile()) paths.push(path.relative(root, path.join(e.parentPath, e.name)));
  }
  const out: SharedReference[] = [];
  for (const rel of paths.sort()) {
    const buf = await fs.readFile(path.join(root, rel)).catch(() => null);
    // Binary files (images, zips) hold no paths worth checking.
    if (!buf || buf.includes(0)) continue;
    out.push(...sharedReferences(buf.toString('utf8'), rel));
  }
  return out;
}


/** A `dataDir('a', 'b', ...)` call in a test whose arguments are all string literals, and the path it names. */
export interface FixtureCall {
  file: string;
  line: number;
  parts: string[];
}

const DATA_DIR_CALL = /\bdataDir\(([^()]*)\)/g;
const LITERAL = /^\s*'([^'\\]*)'\s*$/;

/** Every `dataDir(...)` call in `text` made only of string literals (calls with variables are skipped). */
export function literalFixtureCalls(text: string, file = '<text>'): FixtureCall[] {
  const out: FixtureCall[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    for (const m of line.matchAll(DATA_DIR_CALL)) {
      const args = m[1].split(',');
      const parts = args.map((a) => LITERAL.exec(a)?.[1]);
      if (parts.length > 0 && parts.every((x): x is string => x !== undefined)) out.push({ file, line: i + 1, parts });
    }
  }
  return out;
}
