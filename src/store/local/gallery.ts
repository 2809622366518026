import { randomUUID } from 'node:crypto';
import { toPipeline, type RecognitionPipeline } from '../../recognition/types.js';
import type { EnrolledFace, Gallery, Identity } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { SqliteAdapter, truncateWal, type SqliteLease } from './sqlite.js';

interface IdentityRow {
  name: string;
  created_at: string;
  face_count: number;
}

interface FaceRow {
  id: string;
  identity: string;
  descriptor: Buffer;
  source: string | null;
  pipeline: string;
  created_at: string;
}

/**
 * Gallery on SQLite. Descriptors are stored as little-endian Float32 BLOBs. Every mutation
 * bumps the `gallery` counter in the same transaction, so `version()` is one indexed read
 * that workers in any process can poll to know when to reload.
 */
export class SqliteGallery extends SqliteAdapter implements Gallery {
  private readonly now: () => number;
  private readonly stmts;
  private readonly tx;

  constructor(lease: SqliteLease, options: { now?: () => number } = {}) {
    super(lease);
    this.now = options.now ?? Date.now;
    const db = this.db;
    this.stmts = {
      insertIdentity: db.prepare<[string, string]>('INSERT INTO identities (name, created_at) VALUES (?, ?)'),
      insertIdentityIfAbsent: db.prepare<[string, string]>(
        'INSERT INTO identities (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING',
      ),
      getIdentity: db.prepare<[string], IdentityRow>(
        `SELECT i.name, i.created_at, (SELECT COUNT(*) FROM faces f WHERE f.identity = i.name) AS face_count
         FROM identities i WHERE i.name = ?`,
      ),
      listIdentities: db.prepare<[], IdentityRow>(
        `SELECT i.name, i.created_at, COUNT(f.seq) AS face_count
         FROM identities i LEFT JOIN faces f ON f.identity = i.name
         GROUP BY i.name ORDER BY i.name`,
      ),
      deleteFaces: db.prepare<[string]>('DELETE FROM faces WHERE identity = ?'),
      deleteIdentity: db.prepare<[string]>('DELETE FROM identities WHERE name = ?'),
      insertFace: db.prepare<[string, string, Buffer, string | null, string, string]>(
        'INSERT INTO faces (id, identity, descriptor, source, pipeline, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      listFaces: db.prepare<[], FaceRow>('SELECT id, identity, descriptor, source, pipeline, created_at FROM faces ORDER BY seq'),
      bump: db.prepare<[]>("UPDATE counters SET value = value + 1 WHERE name = 'gallery'"),
      version: db.prepare<[], { value: number }>("SELECT value FROM counters WHERE name = 'gallery'"),
    };
    this.tx = {
      create: db.transaction((name: string, createdAt: string) => {
        this.stmts.insertIdentity.run(name, createdAt);
        this.stmts.bump.run();
      }),
      remove: db.transaction((name: string): boolean => {
        this.stmts.deleteFaces.run(name);
        const removed = this.stmts.deleteIdentity.run(name).changes > 0;
        if (removed) this.stmts.bump.run();
        return removed;
      }),
      addFace: db.transaction((face: EnrolledFace) => {
        this.stmts.insertIdentityIfAbsent.run(face.identity, face.createdAt);
        this.stmts.insertFace.run(face.id, face.identity, descriptorToBlob(face.descriptor), face.source ?? null, face.pipeline, face.createdAt);
        this.stmts.bump.run();
      }),
    };
  }

  createIdentity(name: string): Promise<Identity> {
    return this.run(`create identity ${name}`, () => {
      const createdAt = new Date(this.now()).toISOString();
      try {
        this.tx.create.immediate(name, createdAt);
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
          throw new AlreadyExistsError(`identity ${name} already exists`, { cause: err });
        }
        throw err;
      }
      return { name, faceCount: 0, createdAt };
    });
  }

  getIdentity(name: string): Promise<Identity | null> {
    return this.run(`get identity ${name}`, () => {
      const row = this.stmts.getIdentity.get(name);
      return row ? toIdentity(row) : null;
    });
  }

  /** Every identity, by name. */
  listIdentities(): Promise<Identity[]> {
    return this.run('list identities', () => this.stmts.listIdentities.all().map(toIdentity));
  }

  removeIdentity(name: string): Promise<boolean> {
    return this.run(`remove identity ${name}`, () => {
      const removed = this.tx.remove.immediate(name);
      // The removed rows' old pages must leave the -wal file too (secure_delete clears the db's).
      if (removed) truncateWal(this.db);
      return removed;
    });
  }

  addFace(name: string, face: { descriptor: Float32Array; source?: string; pipeline?: RecognitionPipeline }): Promise<EnrolledFace> {
    return this.run(`add face to ${name}`, () => {
      const enrolled: EnrolledFace = {
        id: randomUUID(),
        identity: name,
        descriptor: Float32Array.from(face.descriptor),
        pipeline: face.pipeline ?? 'standard',
        createdAt: new Date(this.now()).toISOString(),
        ...(face.source !== undefined ? { source: face.source } : {}),
      };
      this.tx.addFace.immediate(enrolled);
      return enrolled;
    });
  }

  /** Every face, in enrolment order. */
  listFaces(): Promise<EnrolledFace[]> {
    return this.run('list faces', () =>
      this.stmts.listFaces.all().map((r) => ({
        id: r.id,
        identity: r.identity,
        descriptor: blobToDescriptor(r.descriptor),
        pipeline: toPipeline(r.pipeline),
        createdAt: r.created_at,
        ...(r.source !== null ? { source: r.source } : {}),
      })),
    );
  }

  /** The mutation counter, as a string. */
  version(): Promise<string> {
    return this.run('gallery version', () => String(this.stmts.version.get()?.value ?? 0));
  }
}

function toIdentity(row: IdentityRow): Identity {
  return { name: row.name, faceCount: row.face_count, createdAt: row.created_at };
}

/** Float32 little-endian bytes, independent of the host's byte order. */
export function descriptorToBlob(descriptor: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(descriptor.length * 4);
  for (let i = 0; i < descriptor.length; i++) buf.writeFloatLE(descriptor[i], i * 4);
  return buf;
}

export function blobToDescriptor(blob: Buffer): Float32Array {
  const out = new Float32Array(blob.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = blob.readFloatLE(i * 4);
  return out;
}
