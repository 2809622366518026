import { randomUUID } from 'node:crypto';
import { endianness } from 'node:os';
import type Database from 'better-sqlite3';
import { toPipeline } from '../../recognition/types.js';
import type { CollectionGallery, EnrolledFace, GalleryChange, GalleryChanges, Identity, IndexRow, NewFace } from '../ports.js';
import { AlreadyExistsError, NotFoundError } from '../errors.js';
import { truncateWal } from './sqlite.js';

interface IdentityRow {
  name: string;
  created_at: string;
  face_count: number;
}

export interface FaceRow {
  id: string;
  identity: string;
  descriptor: Buffer;
  source: string | null;
  pipeline: string;
  content_hash: string | null;
  created_at: string;
}

interface ChangeRow {
  seq: number;
  op: string;
  identity: string;
  face_id: string | null;
}

/** Changes read per query of the feed; a caller far behind reads several pages. */
const FEED_PAGE = 5000;
const LITTLE_ENDIAN = endianness() === 'LE';
const FACE_COLUMNS = 'id, identity, descriptor, source, pipeline, content_hash, created_at';

/** The prepared statements every collection view shares (one set per connection). */
export function prepareCollectionStatements(db: Database.Database) {
  return {
    uid: db.prepare<[string], { uid: string }>('SELECT uid FROM collections WHERE name = ?'),
    insertIdentity: db.prepare<[string, string, string]>('INSERT INTO collection_identities (collection, name, created_at) VALUES (?, ?, ?)'),
    identityExists: db.prepare<[string, string], { name: string }>('SELECT name FROM collection_identities WHERE collection = ? AND name = ?'),
    getIdentity: db.prepare<[string, string], IdentityRow>(
      `SELECT i.name, i.created_at, (SELECT COUNT(*) FROM collection_faces f WHERE f.collection = i.collection AND f.identity = i.name) AS face_count
       FROM collection_identities i WHERE i.collection = ? AND i.name = ?`,
    ),
    listIdentities: db.prepare<[string], IdentityRow>(
      `SELECT i.name, i.created_at, COUNT(f.seq) AS face_count
       FROM collection_identities i LEFT JOIN collection_faces f ON f.collection = i.collection AND f.identity = i.name
       WHERE i.collection = ? GROUP BY i.name ORDER BY i.name`,
    ),
    deleteFaces: db.prepare<[string, string]>('DELETE FROM collection_faces WHERE collection = ? AND identity = ?'),
    faceIdsOf: db.prepare<[string, string], { id: string }>('SELECT id FROM collection_faces WHERE collection = ? AND identity = ?'),
    deleteChangesOf: db.prepare<[string, string]>('DELETE FROM gallery_changes WHERE collection = ? AND identity = ?'),
    addedFaceIdsOf: db.prepare<[string, string], { face_id: string }>("SELECT face_id FROM gallery_changes WHERE collection = ? AND identity = ? AND op = 'add' AND face_id IS NOT NULL"),
    deleteIdentity: db.prepare<[string, string]>('DELETE FROM collection_identities WHERE collection = ? AND name = ?'),
    deleteFace: db.prepare<[string, string, string]>('DELETE FROM collection_faces WHERE collection = ? AND identity = ? AND id = ?'),
    insertFace: db.prepare<[string, string, string, Buffer, string | null, string, string | null, string]>(
      'INSERT INTO collection_faces (id, collection, identity, descriptor, source, pipeline, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    faceByHash: db.prepare<[string, string, string], FaceRow>(
      `SELECT ${FACE_COLUMNS} FROM collection_faces WHERE collection = ? AND identity = ? AND content_hash = ? ORDER BY seq LIMIT 1`,
    ),
    facesOf: db.prepare<[string, string], FaceRow>(`SELECT ${FACE_COLUMNS} FROM collection_faces WHERE collection = ? AND identity = ? ORDER BY seq`),
    listFaces: db.prepare<[string], FaceRow>(`SELECT ${FACE_COLUMNS} FROM collection_faces WHERE collection = ? ORDER BY seq`),
    eachFace: db.prepare<[string], [string, string, Buffer, string | null]>('SELECT id, identity, descriptor, pipeline FROM collection_faces WHERE collection = ? ORDER BY seq').raw(),
    faceById: db.prepare<[string], FaceRow>(`SELECT ${FACE_COLUMNS} FROM collection_faces WHERE id = ?`),
    change: db.prepare<[string, string, string, string | null]>('INSERT INTO gallery_changes (collection, op, identity, face_id) VALUES (?, ?, ?, ?)'),
    lastChange: db.prepare<[string], { seq: number | null }>('SELECT MAX(seq) AS seq FROM gallery_changes WHERE collection = ?'),
    changesAfter: db.prepare<[string, number, number], ChangeRow>(
      'SELECT seq, op, identity, face_id FROM gallery_changes WHERE collection = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
  };
}

export type CollectionStatements = ReturnType<typeof prepareCollectionStatements>;

/**
 * One collection of the SQLite gallery. Every mutation writes a `gallery_changes` row in the
 * same IMMEDIATE transaction, so the feed never misses or reorders a change. The version is
 * `<collection uid>.<last change seq>`.
 */
/** After a removal, cut the write-ahead log so the removed rows leave the -wal file too (see truncateWal). */
export function scrubbed(db: Database.Database, removed: boolean): boolean {
  if (removed) truncateWal(db);
  return removed;
}

export class SqliteCollectionGallery implements CollectionGallery {
  private readonly tx;

  constructor(
    readonly collection: string,
    private readonly db: Database.Database,
    private readonly stmts: CollectionStatements,
    private readonly run: <T>(what: string, fn: () => T) => Promise<T>,
    private readonly now: () => number,
  ) {
    const c = collection;
    this.tx = {
      create: db.transaction((name: string, createdAt: string) => {
        this.requireCollection();
        this.stmts.insertIdentity.run(c, name, createdAt);
        this.stmts.change.run(c, 'create-identity', name, null);
      }),
      remove: db.transaction((name: string): boolean => {
        const current = this.stmts.faceIdsOf.all(c, name).map((r) => r.id);
        this.stmts.deleteFaces.run(c, name);
        const removed = this.stmts.deleteIdentity.run(c, name).changes > 0;
        if (removed) {
          // Forget the name in the feed too (a removed person's name must not linger on disk):
          // drop the identity's earlier rows and say the removal face by face, without the name,
          // for every face it ever had (one removed on its own earlier loses its named `remove`
          // row here). A reader past those rows drops the faces by id; one before them never
          // sees them added.
          const ever = this.stmts.addedFaceIdsOf.all(c, name).map((r) => r.face_id);
          this.stmts.deleteChangesOf.run(c, name);
          for (const id of new Set([...current, ...ever])) this.stmts.change.run(c, 'remove', '', id);
        }
        return removed;
      }),
      removeFace: db.transaction((identity: string, faceId: string): boolean => {
        const removed = this.stmts.deleteFace.run(c, identity, faceId).changes > 0;
        if (removed) this.stmts.change.run(c, 'remove', identity, faceId);
        return removed;
      }),
      addFace: db.transaction((face: EnrolledFace) => {
        this.requireCollection();
        if (!this.stmts.identityExists.get(c, face.identity)) {
          this.stmts.insertIdentity.run(c, face.identity, face.createdAt);
          this.stmts.change.run(c, 'create-identity', face.identity, null);
        }
        this.stmts.insertFace.run(face.id, c, face.identity, descriptorToBlob(face.descriptor), face.source ?? null, face.pipeline, face.contentHash ?? null, face.createdAt);
        this.stmts.change.run(c, 'add', face.identity, face.id);
      }),
    };
  }

  private requireCollection(): string {
    const row = this.stmts.uid.get(this.collection);
    if (!row) throw new NotFoundError(`collection ${this.collection} does not exist`);
    return row.uid;
  }

  createIdentity(name: string): Promise<Identity> {
    return this.run(`create identity ${name} in ${this.collection}`, () => {
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
      const row = this.stmts.getIdentity.get(this.collection, name);
      return row ? toIdentity(row) : null;
    });
  }

  listIdentities(): Promise<Identity[]> {
    return this.run('list identities', () => this.stmts.listIdentities.all(this.collection).map(toIdentity));
  }

  removeIdentity(name: string): Promise<boolean> {
    return this.run(`remove identity ${name}`, () => scrubbed(this.db, this.tx.remove.immediate(name)));
  }

  addFace(name: string, face: NewFace): Promise<EnrolledFace> {
    return this.run(`add face to ${name}`, () => {
      const enrolled: EnrolledFace = {
        id: randomUUID(),
        identity: name,
        descriptor: Float32Array.from(face.descriptor),
        pipeline: face.pipeline ?? 'standard',
        createdAt: new Date(this.now()).toISOString(),
        ...(face.source !== undefined ? { source: face.source } : {}),
        ...(face.contentHash !== undefined ? { contentHash: face.contentHash } : {}),
      };
      this.tx.addFace.immediate(enrolled);
      return enrolled;
    });
  }

  removeFace(identity: string, faceId: string): Promise<boolean> {
    return this.run(`remove face ${faceId}`, () => scrubbed(this.db, this.tx.removeFace.immediate(identity, faceId)));
  }

  findFaceByHash(identity: string, contentHash: string): Promise<EnrolledFace | null> {
    return this.run('find face by hash', () => {
      const row = this.stmts.faceByHash.get(this.collection, identity, contentHash);
      return row ? rowToFace(row) : null;
    });
  }

  listFacesOf(identity: string): Promise<EnrolledFace[]> {
    return this.run(`list faces of ${identity}`, () => this.stmts.facesOf.all(this.collection, identity).map(rowToFace));
  }

  listFaces(): Promise<EnrolledFace[]> {
    return this.run('list faces', () => this.stmts.listFaces.all(this.collection).map(rowToFace));
  }

  eachFace(visit: (face: IndexRow) => void): Promise<number> {
    return this.run('read faces', () => {
      // One row at a time, as arrays: only the face being visited is held.
      const row: IndexRow = { id: '', identity: '', descriptor: new Float32Array(0), pipeline: 'standard' };
      let n = 0;
      for (const [id, identity, descriptor, pipeline] of this.stmts.eachFace.iterate(this.collection) as IterableIterator<[string, string, Buffer, string | null]>) {
        row.id = id;
        row.identity = identity;
        row.descriptor = blobToDescriptor(descriptor);
        row.pipeline = toPipeline(pipeline);
        visit(row);
        n += 1;
      }
      return n;
    });
  }

  version(): Promise<string> {
    return this.run('gallery version', () => this.versionNow());
  }

  private versionNow(): string {
    const uid = this.stmts.uid.get(this.collection)?.uid ?? 'none';
    return `${uid}.${this.stmts.lastChange.get(this.collection)?.seq ?? 0}`;
  }

  changesSince(version: string): Promise<GalleryChanges | null> {
    return this.run('read gallery changes', () => {
      const [uid, seqText] = version.split('.');
      const from = Number(seqText);
      const current = this.stmts.uid.get(this.collection)?.uid;
      if (!current || uid !== current || !Number.isSafeInteger(from) || from < 0) return null;
      // One read transaction, so the faces joined below are those of the same snapshot.
      return this.db.transaction(() => {
        const changes: GalleryChange[] = [];
        let last = from;
        for (;;) {
          const rows = this.stmts.changesAfter.all(this.collection, last, FEED_PAGE);
          for (const r of rows) changes.push(...toChange(r, this.stmts));
          if (rows.length > 0) last = rows[rows.length - 1]!.seq;
          if (rows.length < FEED_PAGE) break;
        }
        return { version: `${current}.${last}`, changes };
      })();
    });
  }
}

function toChange(row: ChangeRow, stmts: CollectionStatements): GalleryChange[] {
  if (row.op === 'add') {
    // A face removed later has a later `remove` row; its add is simply skipped.
    const face = row.face_id ? stmts.faceById.get(row.face_id) : undefined;
    return face ? [{ op: 'add', face: rowToFace(face) }] : [];
  }
  if (row.op === 'remove') return [{ op: 'remove', faceId: row.face_id ?? '', identity: row.identity }];
  if (row.op === 'remove-identity') return [{ op: 'remove-identity', identity: row.identity }];
  return [{ op: 'create-identity', identity: row.identity }];
}

function toIdentity(row: IdentityRow): Identity {
  return { name: row.name, faceCount: row.face_count, createdAt: row.created_at };
}

export function rowToFace(r: FaceRow): EnrolledFace {
  return {
    id: r.id,
    identity: r.identity,
    descriptor: blobToDescriptor(r.descriptor),
    pipeline: toPipeline(r.pipeline),
    createdAt: r.created_at,
    ...(r.source !== null ? { source: r.source } : {}),
    ...(r.content_hash !== null ? { contentHash: r.content_hash } : {}),
  };
}

/** Float32 little-endian bytes, independent of the host's byte order. */
export function descriptorToBlob(descriptor: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(descriptor.length * 4);
  for (let i = 0; i < descriptor.length; i++) buf.writeFloatLE(descriptor[i]!, i * 4);
  return buf;
}

export function blobToDescriptor(blob: Buffer): Float32Array {
  // On little-endian hosts (all Node targets in practice) the bytes are the array: one copy.
  if (LITTLE_ENDIAN) return new Float32Array(new Uint8Array(blob).buffer);
  const out = new Float32Array(blob.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = blob.readFloatLE(i * 4);
  return out;
}
