/**
 * Code that ships or runs benchmarks stands on its own: nothing under `src/` or `scripts/`
 * imports from `test/` (what both need lives in `scripts/lib` or `src`). Checked on a planted
 * sample too, so this test can fail.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SPECIFIER = /\bfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** The relative import specifiers in `text` (of `file`, relative to `root`) that resolve into `root/test/`. */
function importsFromTest(root: string, file: string, text: string): string[] {
  const testDir = path.join(root, 'test') + path.sep;
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (!spec.startsWith('.')) continue;
    if (path.resolve(root, path.dirname(file), spec).startsWith(testDir)) out.push(`${file}: ${spec}`);
  }
  return out;
}

async function tsFiles(root: string, dir: string): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

describe('layers', () => {
  it('nothing under src/ or scripts/ imports from test/', async () => {
    const root = process.cwd();
    const found: string[] = [];
    for (const file of [...(await tsFiles(root, 'src')), ...(await tsFiles(root, 'scripts'))]) {
      found.push(...importsFromTest(root, file, await fs.readFile(path.join(root, file), 'utf8')));
    }
    expect(found).toEqual([]);
  });

  it('finds an import from test/ in a planted sample, static or dynamic, and passes others', () => {
    const sample = [
      "import { loadCse546 } from '../../test/helpers/cse546.js';",
      "const { aJob } = await import('../../test/helpers/builders.js');",
      "import { x } from '../test/y.js'; // scripts/test, not test/",
      "import '../../test/setup.js';",
      "import { loadCse546 } from './cse546.js';",
      "import { runCli } from '../../src/cli/program.js';",
      "import yauzl from 'yauzl';",
    ].join('\n');
    expect(importsFromTest('/repo', 'scripts/lib/x.ts', sample)).toEqual([
      'scripts/lib/x.ts: ../../test/helpers/cse546.js',
      'scripts/lib/x.ts: ../../test/helpers/builders.js',
      'scripts/lib/x.ts: ../../test/setup.js',
    ]);
  });
});
