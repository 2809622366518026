/**
 * A clone must work on its own: nothing in the source, the tests, the scripts, the docs or the
 * README may read the development workspace's shared folder beside the checkout, except LFW's fallback
 * location. The scanner is also run on a planted copy, so this test can fail.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { dataDir } from '../helpers/images.js';
import { literalFixtureCalls, scanCheckout, sharedReferences } from './self-contained.js';

const SCANNED_DIRS = ['src', 'test', 'scripts', 'docs', 'examples'];
const SCANNED_FILES = ['README.md', 'package.json', 'vitest.config.ts'];
// Built from pieces so that this file passes its own scan.
const DOTDOT = '.'.repeat(2);
const SHARED = `${DOTDOT}/shared`;
const SEGMENTS = `'${DOTDOT}', 'shared'`;

describe('the repository is self-contained', () => {
  const temps: string[] = [];
  afterAll(async () => {
    for (const t of temps) await fs.rm(t, { recursive: true, force: true });
  });

  it('no file under src/, test/, scripts/, docs/, examples/ or the README refers to the shared workspace folder, except the LFW fallback', async () => {
    expect(await scanCheckout(process.cwd(), SCANNED_DIRS, SCANNED_FILES)).toEqual([]);
  });

  it('the scanner flags a data path outside the repository, in either spelling, and passes the LFW fallback', () => {
    const sample = [
      `const img = '${SHARED}/data/bbt/amy/amy1.png';`,
      `path.resolve(root, ${SEGMENTS}, 'data', 'cse546');`,
      `// LFW: --lfw DIR, FACEFLEET_LFW_DIR, then ${SHARED}/data/lfw when it exists`,
      `return path.resolve(root, ${SEGMENTS}, 'data', 'lfw');`,
      `see ${SHARED}\\data\\README.md`,
      `the shared SQLite connection; ${SHARED}ness is not a path`,
    ].join('\n');
    expect(sharedReferences(sample).map((r) => r.line)).toEqual([1, 2, 5]);
  });

  it('every fixture a test names with dataDir(...) literals is in examples/', async () => {
    const files = (await fs.readdir('test', { withFileTypes: true, recursive: true })).filter((e) => e.isFile() && e.name.endsWith('.ts'));
    const calls = [];
    for (const e of files) {
      const file = path.join(e.parentPath, e.name);
      calls.push(...literalFixtureCalls(await fs.readFile(file, 'utf8'), file));
    }
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.filter((c) => !existsSync(dataDir(...c.parts))).map((c) => `${c.file}:${c.line} ${c.parts.join('/')}`)).toEqual([]);
  });

  it('reads the literal dataDir calls, and skips the ones built from variables', () => {
    // The calls are built so that this file's own source holds none for the scan above.
    const call = (args: string) => `${'data'}Dir(${args})`;
    const sample = [`fs.readFile(${call("'lfw', 'images', 'A', 'A_0001.jpg'")})`, call("'bbt', name, `${name}1.png`"), `const d = ${call("'bbt', 'bbt1.jpg'")}; ${call('')}`].join('\n');
    expect(literalFixtureCalls(sample).map((c) => c.parts.join('/'))).toEqual(['lfw/images/A/A_0001.jpg', 'bbt/bbt1.jpg']);
    expect(existsSync(dataDir(...['lfw', 'images', 'A', 'A_0001.jpg']))).toBe(false);
  });

  it('catches a reference planted in a copy of the checkout', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-self-contained-'));
    temps.push(root);
    await fs.mkdir(path.join(root, 'test', 'e2e'), { recursive: true });
    await fs.mkdir(path.join(root, 'src'), { recursive: true });
    await fs.writeFile(path.join(root, 'src', 'ok.ts'), "export const dir = 'examples/bbt';\n");
    await fs.writeFile(path.join(root, 'test', 'e2e', 'planted.test.ts'), `const f = '${SHARED}/data/bbt/bbt1.jpg';\n`);
    await fs.writeFile(path.join(root, 'README.md'), `LFW: \`${SHARED}/data/lfw\` when it exists.\n\ncurl -F image=@${SHARED}/data/bbt/amy/amy1.png\n`);
    const found = await scanCheckout(root, SCANNED_DIRS, ['README.md']);
    expect(found.map((r) => `${r.file}:${r.line}`)).toEqual(['README.md:3', path.join('test', 'e2e', 'planted.test.ts') + ':1']);
  });
});
