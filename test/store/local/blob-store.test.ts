import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBlobStore, validateBlobKey } from '../../../src/store/local/index.js';
import { InvalidKeyError, NotFoundError, StoreUnavailableError } from '../../../src/store/errors.js';

let dir: string;
let root: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-'));
  root = path.join(dir, 'blobs');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A pid no process has: above Linux's pid_max ceiling. */
const DEAD_PID = 99_999_999;

describe('FileBlobStore on disk', () => {
  it('writes each key to its own file under the root, leaving no temp files', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.put('jobs/j1/input', Buffer.from('hello'));
    expect(await fs.readFile(path.join(root, 'jobs', 'j1', 'input'), 'utf8')).toBe('hello');
    expect(await fs.readdir(path.join(root, '~tmp'))).toEqual([]);
  });

  it('putVisible: the value is readable when it resolves, and durable settles once flushed', async () => {
    const blobs = new FileBlobStore(root);
    const { durable } = await blobs.putVisible('inputs/ab/j1', Buffer.from('hello'));
    expect((await blobs.get('inputs/ab/j1')).toString()).toBe('hello');
    await expect(durable).resolves.toBeUndefined();
    expect(await fs.readdir(path.join(root, '~tmp'))).toEqual([]);
  });

  it('removes temp files of dead writers on open, keeping those of live ones', async () => {
    await fs.mkdir(path.join(root, '~tmp'), { recursive: true });
    const dead = path.join(root, '~tmp', `${DEAD_PID}-0123abcd`);
    const live = path.join(root, '~tmp', `${process.pid}-4567ef01`);
    const hung = path.join(root, '~tmp', `${process.pid}-89abcdef`);
    await fs.writeFile(dead, 'half a jpeg');
    await fs.writeFile(live, 'being written');
    await fs.writeFile(hung, 'forgotten');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(hung, twoHoursAgo, twoHoursAgo);
    new FileBlobStore(root);
    expect((await fs.readdir(path.join(root, '~tmp'))).sort()).toEqual([path.basename(live)]);
  });

  it('never writes outside the root for escaping keys', async () => {
    const blobs = new FileBlobStore(root);
    for (const key of ['../outside', '../../outside', 'a/../../outside', '/tmp/outside', '..']) {
      await expect(blobs.put(key, Buffer.from('x'))).rejects.toBeInstanceOf(InvalidKeyError);
    }
    expect((await fs.readdir(dir)).sort()).toEqual(['blobs']);
  });

  it('prunes directories a delete leaves empty, but not the root', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.put('jobs/j1/input', Buffer.from('x'));
    await blobs.put('jobs/j2/input', Buffer.from('y'));
    await blobs.delete('jobs/j1/input');
    expect((await fs.readdir(path.join(root, 'jobs'))).sort()).toEqual(['j2']);
    await blobs.delete('jobs/j2/input');
    expect((await fs.readdir(root)).sort()).toEqual(['~tmp']);
    await blobs.put('jobs/j3/input', Buffer.from('z'));
    expect((await blobs.get('jobs/j3/input')).toString()).toBe('z');
  });

  it('writes into a directory it made earlier even after another store pruned it', async () => {
    const writer = new FileBlobStore(root);
    const cleaner = new FileBlobStore(root);
    await writer.put('inputs/ab/one', Buffer.from('1'));
    // Another process deletes the only blob there: the shared directory goes with it.
    await cleaner.delete('inputs/ab/one');
    expect(await fs.readdir(root)).toEqual(['~tmp']);
    await writer.put('inputs/ab/two', Buffer.from('2'));
    expect(await fs.readFile(path.join(root, 'inputs', 'ab', 'two'), 'utf8')).toBe('2');
    // And the same again while the directory is there: both blobs side by side.
    await writer.put('inputs/ab/three', Buffer.from('3'));
    expect((await fs.readdir(path.join(root, 'inputs', 'ab'))).sort()).toEqual(['three', 'two']);
    expect(await fs.readdir(path.join(root, '~tmp'))).toEqual([]);
  });

  it('reports a vanished root as unavailable on ping, and recovers on the next put', async () => {
    const blobs = new FileBlobStore(root);
    await fs.rm(root, { recursive: true, force: true });
    await expect(blobs.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await blobs.put('k', Buffer.from('back'));
    expect((await blobs.get('k')).toString()).toBe('back');
    await expect(blobs.ping()).resolves.toBeUndefined();
  });

  it('treats a key that is a prefix of other keys as no blob, and refuses to write over either', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.put('a/b', Buffer.from('x'));
    await expect(blobs.get('a')).rejects.toBeInstanceOf(NotFoundError);
    expect(await blobs.exists('a')).toBe(false);
    await expect(blobs.delete('a')).resolves.toBeUndefined();
    await expect(blobs.put('a', Buffer.from('y'))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(blobs.put('a/b/c', Buffer.from('y'))).rejects.toBeInstanceOf(InvalidKeyError);
    expect((await blobs.get('a/b')).toString()).toBe('x');
  });
});

describe('validateBlobKey', () => {
  it('splits a valid key into segments', () => {
    expect(validateBlobKey('jobs/abc-1/input.jpg')).toEqual(['jobs', 'abc-1', 'input.jpg']);
  });

  it.each(['', 'a/../b', '~tmp/x', 'a\0', 'C:\\x', `${'s'.repeat(256)}`, 'a/b/'.repeat(300)])('refuses %j', (key) => {
    expect(() => validateBlobKey(key)).toThrow(InvalidKeyError);
  });
});
