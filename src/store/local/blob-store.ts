import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { BlobPutOptions, BlobStore } from '../ports.js';
import { FacefleetError } from '../../errors.js';
import { validateBlobKey } from '../blob-key.js';
import { InvalidKeyError, NotFoundError, StorePermanentError, StoreUnavailableError } from '../errors.js';
import { DIR_MODE, FILE_MODE } from './modes.js';

/**
 * Temp files live in one directory under the root whose name no valid key can produce (`~`
 * is outside the key alphabet), on the same filesystem so `rename` into place is atomic.
 * One directory means cleanup after a crash reads one listing, not the whole tree.
 */
const TEMP_DIR = '~tmp';
/** A temp file of a live process is left alone unless it is this old (a hung writer). */
const STALE_TEMP_MS = 60 * 60 * 1000;
/**
 * Directories a store remembers having made. Keys that share a prefix directory (the web
 * tier's `inputs/<shard>/<id>`: 256 of them) then skip the `mkdir` on every later put; keys
 * with a directory of their own gain nothing, and the memory is bounded.
 */
const MAX_KNOWN_DIRS = 4096;

/**
 * BlobStore on the filesystem: one file per key under `root` (e.g. `<dataDir>/blobs`).
 * Writes go to a temp file, are fsynced, then renamed into place, so a reader sees the old
 * bytes or the new ones. `contentType` is not stored: `get` returns bytes only.
 * Opening removes temp files left by writers that crashed.
 */
export class FileBlobStore implements BlobStore {
  private readonly root: string;
  private readonly tempDir: string;
  private readonly log?: Logger;
  /** Temp file names: `<pid>-<tempPrefix><counter>`. */
  private readonly tempPrefix = `${randomBytes(6).toString('hex')}-`;
  private tempCounter = 0;
  /** Parent directories this store made or found (see {@link MAX_KNOWN_DIRS}); a hint, never trusted alone. */
  private readonly knownDirs = new Set<string>();

  constructor(root: string, options: { log?: Logger } = {}) {
    this.root = path.resolve(root);
    this.tempDir = path.join(this.root, TEMP_DIR);
    this.log = options.log;
    try {
      fs.mkdirSync(this.tempDir, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw translateFsError(err, `open blob store at ${this.root}`);
    }
    this.cleanTempFiles();
  }

  /** The file for `key`; throws InvalidKeyError unless it lies strictly inside the root. */
  private pathFor(key: string): string {
    const file = path.resolve(this.root, ...validateBlobKey(key));
    // Belt and braces: the segment rules already forbid escapes, but the resolved path is
    // what the filesystem will use, so check that too.
    if (!file.startsWith(this.root + path.sep)) throw new InvalidKeyError(`blob key escapes the store root`);
    return file;
  }

  async put(key: string, body: Buffer, _options?: BlobPutOptions): Promise<void> {
    await this.write(key, body, true);
  }

  /**
   * Written and renamed into place without waiting for the disk; `durable` is the fsync of the
   * file that follows (a few ms, and tens on a busy disk, that the web tier overlaps with
   * creating and queueing the job).
   */
  async putVisible(key: string, body: Buffer, _options?: BlobPutOptions): Promise<{ durable: Promise<void> }> {
    const file = await this.write(key, body, false);
    const durable = flushFile(file).catch((err: unknown) => {
      throw translateFsError(err, `flush blob ${key}`, StoreUnavailableError);
    });
    // The caller awaits it later; a rejection meanwhile is not unhandled.
    durable.catch(() => undefined);
    return { durable };
  }

  /** Write through a temp file renamed into place; `flush` fsyncs it first. Returns the final path. */
  private async write(key: string, body: Buffer, flush: boolean): Promise<string> {
    const file = this.pathFor(key);
    // Unique within this process by the counter, across processes by the pid (which the
    // cleanup on open reads back) and the per-store random part.
    const temp = path.join(this.tempDir, `${process.pid}-${this.tempPrefix}${(this.tempCounter++).toString(36)}`);
    try {
      // The callback API: open, write, (fsync,) close run as one chain of libuv requests,
      // without the FileHandle objects and promise per step of fs/promises.
      await writeFile(temp, body, flush).catch(async (err: NodeJS.ErrnoException) => {
        // Someone removed the temp dir (an operator cleaning up): make it again, once.
        if (err.code !== 'ENOENT') throw err;
        await fsp.mkdir(this.tempDir, { recursive: true, mode: DIR_MODE });
        await writeFile(temp, body, flush);
      });
      const dir = path.dirname(file);
      if (!this.knownDirs.has(dir)) {
        await mkdirp(dir);
        if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.knownDirs.clear();
        this.knownDirs.add(dir);
      }
      try {
        await rename(temp, file);
      } catch (err) {
        // A delete (here or in another process) may have removed the parent once it was
        // empty: after our mkdir, or since we remembered it. Make it again, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.knownDirs.delete(dir);
        await mkdirp(dir);
        this.knownDirs.add(dir);
        await rename(temp, file);
      }
      return file;
    } catch (err) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new InvalidKeyError(`put blob ${key}: a prefix of the key is itself a blob`, { cause: err });
      }
      throw translateFsError(err, `put blob ${key}`, StoreUnavailableError);
    }
  }

  async get(key: string): Promise<Buffer> {
    const file = this.pathFor(key);
    try {
      return await fsp.readFile(file);
    } catch (err) {
      // A directory is a prefix of other keys, not a blob.
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new NotFoundError(`get blob ${key}: not found`, { cause: err });
      throw translateFsError(err, `get blob ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathFor(key);
    try {
      await fsp.rm(file, { force: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A directory is a prefix of other keys, not a blob: there is nothing to delete.
      if (code === 'ERR_FS_EISDIR' || code === 'EISDIR' || code === 'ENOTDIR') return;
      throw translateFsError(err, `delete blob ${key}`);
    }
    await this.pruneEmptyParents(path.dirname(file));
  }

  async listOlderThan(prefix: string, before: Date, limit: number): Promise<string[]> {
    const dir = path.resolve(this.root, ...prefix.split('/').filter(Boolean));
    if (!dir.startsWith(this.root + path.sep)) throw new InvalidKeyError('blob prefix escapes the store root');
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true, recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw translateFsError(err, `list blobs under ${prefix}`);
    }
    const out: string[] = [];
    for (const e of entries) {
      if (out.length >= limit) break;
      if (!e.isFile()) continue;
      const file = path.join(e.parentPath, e.name);
      const stat = await fsp.stat(file).catch(() => null);
      if (stat && stat.mtimeMs < before.getTime()) out.push(path.relative(this.root, file).split(path.sep).join('/'));
    }
    return out;
  }

  async exists(key: string): Promise<boolean> {
    const file = this.pathFor(key);
    try {
      return (await fsp.stat(file)).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw translateFsError(err, `stat blob ${key}`);
    }
  }

  async ping(): Promise<void> {
    try {
      await fsp.access(this.tempDir, fs.constants.W_OK);
    } catch (err) {
      throw translateFsError(err, 'ping blob store', StoreUnavailableError);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Remove directories emptied by a delete (each job leaves `jobs/<id>/`), up to the root. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir.startsWith(this.root + path.sep)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return; // not empty, already gone, or busy: any of these ends the walk
      }
      dir = path.dirname(dir);
    }
  }

  /** Delete temp files whose writer process is gone, or that are too old to be live. */
  private cleanTempFiles(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.tempDir);
    } catch {
      return;
    }
    let removed = 0;
    for (const name of names) {
      const pid = Number(name.split('-', 1)[0]);
      const file = path.join(this.tempDir, name);
      try {
        const stale = Date.now() - fs.statSync(file).mtimeMs > STALE_TEMP_MS;
        if (stale || !isAlive(pid)) {
          fs.rmSync(file, { force: true });
          removed += 1;
        }
      } catch {
        // raced with its writer's rename; nothing to clean
      }
    }
    if (removed > 0) this.log?.info({ removed, dir: this.tempDir }, 'removed temp files left by crashed writers');
  }
}

/** Write `body` to a new file at `file` (mode 0600); with `flush`, fsync it before closing: durable once resolved. */
function writeFile(file: string, body: Buffer, flush: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.writeFile(file, body, { mode: FILE_MODE, flush }, (err) => (err ? reject(err) : resolve()));
  });
}

/** fsync an existing file. */
function flushFile(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => {
      if (err) return reject(err);
      fs.fsync(fd, (syncErr) => fs.close(fd, (closeErr) => (syncErr ?? closeErr ? reject(syncErr ?? closeErr) : resolve())));
    });
  });
}

function mkdirp(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.mkdir(dir, { recursive: true, mode: DIR_MODE }, (err) => (err ? reject(err) : resolve()));
  });
}

function rename(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.rename(from, to, (err) => (err ? reject(err) : resolve()));
  });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `missing` is what ENOENT means here: NotFoundError for a read, trouble for a write or ping. */
function translateFsError(
  err: unknown,
  context: string,
  missing: typeof NotFoundError | typeof StoreUnavailableError = NotFoundError,
): FacefleetError {
  if (err instanceof FacefleetError) return err;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const message = `${context}: ${err instanceof Error ? err.message : String(err)}`;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new missing(message, { cause: err });
  // A key that is also a "directory" of another key (`a` and `a/b`) cannot exist on a filesystem.
  if (code === 'EISDIR' || code === 'EEXIST') return new InvalidKeyError(message, { cause: err });
  if (['EACCES', 'EPERM', 'EROFS', 'ENAMETOOLONG'].includes(code)) return new StorePermanentError(message, { cause: err });
  return new StoreUnavailableError(message, { cause: err, details: code ? { errno: code } : undefined });
}
