import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '../../log.js';
import type { Collection, CollectionInfo, CollectionGallery, CollectionSettings, CollectionSettingsPatch, EnrolledFace, Gallery, GalleryChanges, Identity, IndexRow, NewFace, UnknownClusterStore } from '../ports.js';
import { COLLECTION_SETTINGS, DEFAULT_COLLECTION, DEFAULT_UNKNOWN_RETENTION_DAYS, settingsOf } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';
import { COLLECTIONS_PK, DynamoCollectionGallery, facesPk, identitiesPk, logPk, type CollectionItem } from './dynamo-collection-gallery.js';
import { deleteKeys, queryAll, type Item } from './dynamo-items.js';
import { DynamoUnknownClusters, unknownsPk } from './dynamo-unknown-clusters.js';

export { decodeDescriptor, encodeDescriptor } from './dynamo-items.js';

export interface DynamoGalleryOptions {
  doc: DynamoDBDocumentClient;
  /** Table with string partition key `pk` and string sort key `sk`. */
  table: string;
  log?: Logger;
}

/**
 * The `default` collection's uid. Fixed, so that two processes upgrading one legacy table at
 * once write the same items; `default` is never removed, so it needs no second incarnation.
 */
const DEFAULT_UID = 'default0';
const LEGACY_PREFIX = 'id#';
const LEGACY_META_PK = '#meta';

/**
 * Gallery on one DynamoDB table, as collections (key design in `dynamo-collection-gallery.ts`).
 * No transactions: each change is its item's write, then an entry in the collection's change
 * log. A table written before collections (one partition `id#<name>` per identity) is moved
 * into `default` the first time a process opens it: the one Scan this adapter makes, and only
 * while the `default` collection record is absent.
 */
export class DynamoGallery implements Gallery {
  readonly collection = DEFAULT_COLLECTION;
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly log?: Logger;
  private readyPromise: Promise<void> | undefined;
  private readonly views = new Map<string, DynamoCollectionGallery>();
  private readonly unknownViews = new Map<string, DynamoUnknownClusters>();

  constructor(options: DynamoGalleryOptions) {
    this.doc = options.doc;
    this.table = options.table;
    this.log = options.log;
  }

  in(collection: string): CollectionGallery {
    let view = this.views.get(collection);
    if (!view) {
      view = new DynamoCollectionGallery(collection, this.doc, this.table, () => this.ready());
      this.views.set(collection, view);
    }
    return view;
  }

  unknowns(collection: string): UnknownClusterStore {
    let view = this.unknownViews.get(collection);
    if (!view) {
      view = new DynamoUnknownClusters(collection, this.doc, this.table, async () => (await this.collectionItem(collection))?.uid ?? null);
      this.unknownViews.set(collection, view);
    }
    return view;
  }

  async createCollection(name: string, options: CollectionSettings = {}): Promise<Collection> {
    await this.ready();
    const item: CollectionItem = { pk: COLLECTIONS_PK, sk: name, name, uid: randomUUID(), createdAt: new Date().toISOString(), ...settingsOf(options) };
    await this.putCollection(item, `collection ${name} already exists`);
    return { ...toCollection(item), identityCount: 0, faceCount: 0 };
  }

  async updateCollection(name: string, patch: CollectionSettingsPatch): Promise<Collection | null> {
    await this.ready();
    const set: string[] = [], remove: string[] = [];
    const values: Record<string, number | boolean> = {};
    const names: Record<string, string> = {};
    for (const k of COLLECTION_SETTINGS) {
      const v = patch[k];
      if (v === undefined) continue;
      names[`#${k}`] = k;
      if (v === null) remove.push(`#${k}`);
      else {
        set.push(`#${k} = :${k}`);
        values[`:${k}`] = v;
      }
    }
    if (set.length + remove.length === 0) return this.getCollection(name);
    try {
      // One conditional write: it never makes a record for a collection that is not there.
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: COLLECTIONS_PK, sk: name },
          UpdateExpression: [set.length ? `SET ${set.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : ''].join(' ').trim(),
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ...(set.length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') return null;
      throw classifyAwsError(err, `update collection ${name}`);
    }
    return this.getCollection(name);
  }

  private async collectionItem(name: string): Promise<CollectionItem | null> {
    await this.ready();
    const out = await awsCall(`read collection ${name}`, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: COLLECTIONS_PK, sk: name }, ConsistentRead: true })),
    );
    return (out.Item as CollectionItem | undefined) ?? null;
  }

  async getCollection(name: string): Promise<Collection | null> {
    const item = await this.collectionItem(name);
    return item ? this.withCounts(item) : null;
  }

  async findCollection(name: string): Promise<CollectionInfo | null> {
    const item = await this.collectionItem(name);
    return item ? toCollection(item) : null;
  }

  async listCollections(): Promise<Collection[]> {
    await this.ready();
    const items = (await queryAll(this.doc, this.table, COLLECTIONS_PK)) as CollectionItem[];
    return Promise.all(items.map((i) => this.withCounts(i)));
  }

  async removeCollection(name: string): Promise<boolean> {
    await this.ready();
    const out = await awsCall(`remove collection ${name}`, () =>
      this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: COLLECTIONS_PK, sk: name }, ReturnValues: 'ALL_OLD' })),
    );
    const removed = out.Attributes as CollectionItem | undefined;
    if (!removed) return false;
    // The record is gone first, so nothing reads the partitions while they are emptied.
    for (const pk of [facesPk(removed.uid), identitiesPk(removed.uid), logPk(removed.uid), unknownsPk(removed.uid)]) {
      const items = await queryAll(this.doc, this.table, pk);
      await deleteKeys(this.doc, this.table, items.map((i) => ({ pk: i.pk, sk: i.sk })));
    }
    return true;
  }

  private async withCounts(item: CollectionItem): Promise<Collection> {
    const identities = await this.in(item.name).listIdentities();
    return { ...toCollection(item), identityCount: identities.length, faceCount: identities.reduce((n, i) => n + i.faceCount, 0) };
  }

  private async putCollection(item: CollectionItem, exists: string): Promise<void> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(exists, { cause: err });
      throw classifyAwsError(err, `create collection ${item.name}`);
    }
  }

  /** Once per instance: make sure `default` exists, moving a legacy gallery into it first. */
  private ready(): Promise<void> {
    this.readyPromise ??= this.upgrade().catch((err) => {
      this.readyPromise = undefined;
      throw err;
    });
    return this.readyPromise;
  }

  private async upgrade(): Promise<void> {
    const existing = await awsCall('read the default collection', () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: COLLECTIONS_PK, sk: DEFAULT_COLLECTION }, ConsistentRead: true })),
    );
    if (existing.Item) return;
    const legacy: Item[] = [];
    let next: Record<string, unknown> | undefined;
    do {
      const out = await awsCall('scan the legacy gallery', () =>
        this.doc.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ...(next ? { ExclusiveStartKey: next } : {}) })),
      );
      for (const raw of (out.Items ?? []) as Item[]) if (raw.pk.startsWith(LEGACY_PREFIX) || raw.pk === LEGACY_META_PK) legacy.push(raw);
      next = out.LastEvaluatedKey;
    } while (next);
    const identities = legacy.filter((i) => i.sk === 'identity');
    const generations = new Map(identities.map((i) => [i.name as string, i.generation]));
    for (const i of identities) {
      const { pk: _pk, sk: _sk, ...rest } = i;
      await awsCall('move a legacy identity', () =>
        this.doc.send(new PutCommand({ TableName: this.table, Item: { ...rest, pk: identitiesPk(DEFAULT_UID), sk: i.name as string } })),
      );
    }
    let moved = 0;
    for (const f of legacy.filter((i) => i.sk.startsWith('face#'))) {
      if (generations.get(f.identity as string) !== f.generation) continue;
      const { pk: _pk, sk: _sk, ...rest } = f;
      await awsCall('move a legacy face', () =>
        this.doc.send(new PutCommand({ TableName: this.table, Item: { ...rest, pk: facesPk(DEFAULT_UID), sk: `${f.identity as string}/${f.faceId as string}` } })),
      );
      moved += 1;
    }
    const record: CollectionItem = { pk: COLLECTIONS_PK, sk: DEFAULT_COLLECTION, name: DEFAULT_COLLECTION, uid: DEFAULT_UID, createdAt: new Date().toISOString() };
    try {
      await this.putCollection(record, 'default exists');
    } catch (err) {
      // Another process finished the same upgrade first; its items are the same as ours.
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
    await deleteKeys(this.doc, this.table, legacy.map((i) => ({ pk: i.pk, sk: i.sk })));
    if (legacy.length > 0) this.log?.info({ identities: identities.length, faces: moved }, 'gallery upgraded: the legacy gallery is now the default collection');
  }

  async ping(): Promise<void> {
    await this.ready();
  }

  async close(): Promise<void> {}

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

function toCollection(item: CollectionItem): CollectionInfo {
  return {
    name: item.name,
    ...settingsOf(item),
    trackUnknowns: item.trackUnknowns === true,
    unknownRetentionDays: item.unknownRetentionDays ?? DEFAULT_UNKNOWN_RETENTION_DAYS,
    createdAt: item.createdAt,
  };
}
