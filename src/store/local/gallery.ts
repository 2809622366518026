import { randomBytes } from 'node:crypto';
import type { Collection, CollectionInfo, CollectionGallery, CollectionSettings, CollectionSettingsPatch, EnrolledFace, Gallery, GalleryChanges, Identity, IndexRow, NewFace, UnknownClusterStore } from '../ports.js';
import { DEFAULT_COLLECTION, DEFAULT_UNKNOWN_RETENTION_DAYS, settingsOf } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { prepareCollectionStatements, scrubbed, SqliteCollectionGallery, type CollectionStatements } from './collection-gallery.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';
import { prepareUnknownStatements, SqliteUnknownClusters, type UnknownStatements } from './unknown-clusters.js';

export { blobToDescriptor, descriptorToBlob } from './collection-gallery.js';

interface CollectionRow {
  name: string;
  threshold: number | null;
  min_quality: number | null;
  min_enroll_quality: number | null;
  track_unknowns: number;
  unknown_retention_days: number | null;
  created_at: string;
  identity_count: number;
  face_count: number;
}

const COLLECTION_COLUMNS = 'c.name, c.threshold, c.min_quality, c.min_enroll_quality, c.track_unknowns, c.unknown_retention_days, c.created_at';
const COLLECTION_INFO_SELECT = `SELECT ${COLLECTION_COLUMNS} FROM collections c`;
const COLLECTION_SELECT = `SELECT ${COLLECTION_COLUMNS},
    (SELECT COUNT(*) FROM collection_identities i WHERE i.collection = c.name) AS identity_count,
    (SELECT COUNT(*) FROM collection_faces f WHERE f.collection = c.name) AS face_count
  FROM collections c`;

/**
 * Gallery on SQLite: collections of identities and faces. Descriptors are stored as
 * little-endian Float32 BLOBs. Each collection's change feed is the ordered `gallery_changes`
 * table, written in the same transaction as the change, so `version()` and `changesSince()` are
 * indexed reads that workers in any process can poll.
 */
export class SqliteGallery extends SqliteAdapter implements Gallery {
  readonly collection = DEFAULT_COLLECTION;
  private readonly now: () => number;
  private readonly shared: CollectionStatements;
  private readonly stmts;
  private readonly tx;
  private readonly views = new Map<string, SqliteCollectionGallery>();
  private readonly unknownStmts: UnknownStatements;
  private readonly unknownViews = new Map<string, SqliteUnknownClusters>();

  constructor(lease: SqliteLease, options: { now?: () => number } = {}) {
    super(lease);
    this.now = options.now ?? Date.now;
    const db = this.db;
    this.shared = prepareCollectionStatements(db);
    this.unknownStmts = prepareUnknownStatements(db);
    this.stmts = {
      insert: db.prepare<[string, string, number | null, number | null, number | null, number, number | null, string]>(
        'INSERT INTO collections (name, uid, threshold, min_quality, min_enroll_quality, track_unknowns, unknown_retention_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      update: db.prepare<[number | null, number | null, number | null, number, number | null, string]>(
        'UPDATE collections SET threshold = ?, min_quality = ?, min_enroll_quality = ?, track_unknowns = ?, unknown_retention_days = ? WHERE name = ?',
      ),
      get: db.prepare<[string], CollectionRow>(`${COLLECTION_SELECT} WHERE c.name = ?`),
      find: db.prepare<[string], Omit<CollectionRow, 'identity_count' | 'face_count'>>(`${COLLECTION_INFO_SELECT} WHERE c.name = ?`),
      list: db.prepare<[], CollectionRow>(`${COLLECTION_SELECT} ORDER BY c.name`),
      deleteFaces: db.prepare<[string]>('DELETE FROM collection_faces WHERE collection = ?'),
      deleteIdentities: db.prepare<[string]>('DELETE FROM collection_identities WHERE collection = ?'),
      deleteChanges: db.prepare<[string]>('DELETE FROM gallery_changes WHERE collection = ?'),
      delete: db.prepare<[string]>('DELETE FROM collections WHERE name = ?'),
    };
    this.tx = {
      update: db.transaction((name: string, patch: CollectionSettingsPatch): Collection | null => {
        const row = this.stmts.get.get(name);
        if (!row) return null;
        const next = { ...toCollection(row), ...patch };
        const days = patch.unknownRetentionDays !== undefined ? patch.unknownRetentionDays : row.unknown_retention_days;
        this.stmts.update.run(next.threshold ?? null, next.minQuality ?? null, next.minEnrollQuality ?? null, next.trackUnknowns ? 1 : 0, days ?? null, name);
        return toCollection(this.stmts.get.get(name)!);
      }),
      remove: db.transaction((name: string): boolean => {
        this.stmts.deleteFaces.run(name);
        this.stmts.deleteIdentities.run(name);
        this.stmts.deleteChanges.run(name);
        this.unknownStmts.deleteAll.run(name);
        return this.stmts.delete.run(name).changes > 0;
      }),
    };
  }

  in(collection: string): CollectionGallery {
    let view = this.views.get(collection);
    if (!view) {
      view = new SqliteCollectionGallery(collection, this.db, this.shared, (what, fn) => this.run(what, fn), this.now);
      this.views.set(collection, view);
    }
    return view;
  }

  unknowns(collection: string): UnknownClusterStore {
    let view = this.unknownViews.get(collection);
    if (!view) {
      view = new SqliteUnknownClusters(collection, this.db, this.unknownStmts, (what, fn) => this.run(what, fn));
      this.unknownViews.set(collection, view);
    }
    return view;
  }

  createCollection(name: string, options: CollectionSettings = {}): Promise<Collection> {
    return this.run(`create collection ${name}`, () => {
      const createdAt = new Date(this.now()).toISOString();
      try {
        this.stmts.insert.run(
          name,
          randomBytes(8).toString('hex'),
          options.threshold ?? null,
          options.minQuality ?? null,
          options.minEnrollQuality ?? null,
          options.trackUnknowns ? 1 : 0,
          options.unknownRetentionDays ?? null,
          createdAt,
        );
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
          throw new AlreadyExistsError(`collection ${name} already exists`, { cause: err });
        }
        throw err;
      }
      return {
        name,
        ...settingsOf(options),
        trackUnknowns: options.trackUnknowns ?? false,
        unknownRetentionDays: options.unknownRetentionDays ?? DEFAULT_UNKNOWN_RETENTION_DAYS,
        identityCount: 0,
        faceCount: 0,
        createdAt,
      };
    });
  }

  updateCollection(name: string, patch: CollectionSettingsPatch): Promise<Collection | null> {
    return this.run(`update collection ${name}`, () => this.tx.update.immediate(name, patch));
  }

  getCollection(name: string): Promise<Collection | null> {
    return this.run(`get collection ${name}`, () => {
      const row = this.stmts.get.get(name);
      return row ? toCollection(row) : null;
    });
  }

  findCollection(name: string): Promise<CollectionInfo | null> {
    return this.run(`find collection ${name}`, () => {
      const row = this.stmts.find.get(name);
      return row ? toCollectionInfo(row) : null;
    });
  }

  listCollections(): Promise<Collection[]> {
    return this.run('list collections', () => this.stmts.list.all().map(toCollection));
  }

  removeCollection(name: string): Promise<boolean> {
    return this.run(`remove collection ${name}`, () => scrubbed(this.db, this.tx.remove.immediate(name)));
  }

  // The default collection, directly on the gallery.
  createIdentity(name: string): Promise<Identity> {
    return this.in(DEFAULT_COLLECTION).createIdentity(name);
  }
  getIdentity(name: string): Promise<Identity | null> {
    return this.in(DEFAULT_COLLECTION).getIdentity(name);
  }
  listIdentities(): Promise<Identity[]> {
    return this.in(DEFAULT_COLLECTION).listIdentities();
  }
  removeIdentity(name: string): Promise<boolean> {
    return this.in(DEFAULT_COLLECTION).removeIdentity(name);
  }
  addFace(name: string, face: NewFace): Promise<EnrolledFace> {
    return this.in(DEFAULT_COLLECTION).addFace(name, face);
  }
  removeFace(identity: string, faceId: string): Promise<boolean> {
    return this.in(DEFAULT_COLLECTION).removeFace(identity, faceId);
  }
  findFaceByHash(identity: string, contentHash: string): Promise<EnrolledFace | null> {
    return this.in(DEFAULT_COLLECTION).findFaceByHash(identity, contentHash);
  }
  listFacesOf(identity: string): Promise<EnrolledFace[]> {
    return this.in(DEFAULT_COLLECTION).listFacesOf(identity);
  }
  listFaces(): Promise<EnrolledFace[]> {
    return this.in(DEFAULT_COLLECTION).listFaces();
  }
  eachFace(visit: (face: IndexRow) => void): Promise<number> {
    return this.in(DEFAULT_COLLECTION).eachFace(visit);
  }
  version(): Promise<string> {
    return this.in(DEFAULT_COLLECTION).version();
  }
  changesSince(version: string): Promise<GalleryChanges | null> {
    return this.in(DEFAULT_COLLECTION).changesSince(version);
  }
}

function toCollectionInfo(row: Omit<CollectionRow, 'identity_count' | 'face_count'>): CollectionInfo {
  return {
    name: row.name,
    ...settingsOf({ threshold: row.threshold, minQuality: row.min_quality, minEnrollQuality: row.min_enroll_quality }),
    trackUnknowns: row.track_unknowns === 1,
    unknownRetentionDays: row.unknown_retention_days ?? DEFAULT_UNKNOWN_RETENTION_DAYS,
    createdAt: row.created_at,
  };
}

function toCollection(row: CollectionRow): Collection {
  return { ...toCollectionInfo(row), identityCount: row.identity_count, faceCount: row.face_count };
}
