import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enrollFromDir } from '../../src/cli/enroll-from-dir.js';
import type { Engine } from '../../src/recognition/types.js';
import { openLocalStores, type LocalStores } from '../../src/store/local/index.js';
import { aDescriptor } from '../helpers/builders.js';

let dir: string;
let stores: LocalStores;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-fromdir-'));
  stores = openLocalStores({ dataDir: path.join(dir, 'data') });
});
afterEach(async () => {
  await stores.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** An engine stand-in: a file's first byte picks its descriptor; "x" means no face. */
const engine = {
  pipeline: 'standard',
  analyze: async (bytes: Buffer) => {
    if (bytes[0] === 'x'.charCodeAt(0)) throw Object.assign(new Error('no face found'), { code: 'no-face' });
    return { width: 1, height: 1, faces: [{ box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, descriptor: aDescriptor(bytes[0]!) }] };
  },
} as unknown as Engine;

describe('enroll --from-dir', () => {
  it('enrolls one identity per sub-folder, reports refused images, and resumes by content hash', async () => {
    const root = path.join(dir, 'in');
    await fs.mkdir(path.join(root, 'Ada'), { recursive: true });
    await fs.mkdir(path.join(root, 'Bob'), { recursive: true });
    await fs.writeFile(path.join(root, 'Ada', 'a1.jpg'), 'a1');
    await fs.writeFile(path.join(root, 'Ada', 'a2.png'), 'b2');
    await fs.writeFile(path.join(root, 'Ada', 'notes.txt'), 'ignored');
    await fs.writeFile(path.join(root, 'Bob', 'b1.jpg'), 'c1');
    await fs.writeFile(path.join(root, 'Bob', 'bad.jpg'), 'x');
    const lines: string[] = [];
    const deps = {
      gallery: stores.gallery,
      engine,
      pickFace: (a: { faces: { descriptor: Float32Array }[] }) => a.faces[0]!,
      readImage: (f: string) => fs.readFile(f),
      report: (l: string) => lines.push(l),
      progress: false,
    };
    const first = await enrollFromDir(root, deps as never);
    expect(first).toMatchObject({ added: 3, skipped: 0 });
    expect(first.refused.map((r) => path.basename(r.file))).toEqual(['bad.jpg']);
    expect(first.refused[0]!.reason).toMatch(/no face found/);
    expect(lines).toHaveLength(1);
    expect((await stores.gallery.listIdentities()).map((i) => [i.name, i.faceCount])).toEqual([
      ['Ada', 2],
      ['Bob', 1],
    ]);
    // A second run adds nothing that is already there, and picks up a new image.
    await fs.writeFile(path.join(root, 'Bob', 'b2.jpg'), 'd2');
    const second = await enrollFromDir(root, deps as never);
    expect(second).toMatchObject({ added: 1, skipped: 3 });
    expect((await stores.gallery.listFaces()).length).toBe(4);
  });
});
