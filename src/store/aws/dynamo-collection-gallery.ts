import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { toPipeline } from '../../recognition/types.js';
import type { CollectionGallery, CollectionSettings, EnrolledFace, GalleryChange, GalleryChanges, Identity, IndexRow, NewFace } from '../ports.js';
import { AlreadyExistsError, NotFoundError, StoreUnavailableError } from '../errors.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';
import { decodeDescriptor, deleteKeys, encodeDescriptor, lastItem, queryAll, type Item } from './dynamo-items.js';

/**
 * Key design, per collection incarnation `uid` (a collection made anew gets a new uid, so
 * nothing of a removed one is ever read again):
 * - `#collections` / `<name>`: the collection (uid, threshold, createdAt); listing collections
 *   is one Query of this partition.
 * - `c#<uid>#identities` / `<identity>`: identities, with a `generation` faces carry.
 * - `c#<uid>#faces` / `<identity>/<faceId>`: faces (identity names hold no `/`).
 * - `c#<uid>#log` / `<seq, 15 digits>`: the change feed, appended with a conditional Put on the
 *   next sequence number, so it has no gaps; an `add` carries the whole face. Removing a face or
 *   an identity rewrites the entries that carry it as `forgotten` (see `forgetIdentityInLog`).
 * Every read is a Query or GetItem inside one collection's partitions: nothing scans.
 */
export const COLLECTIONS_PK = '#collections';
export const identitiesPk = (uid: string) => `c#${uid}#identities`;
export const facesPk = (uid: string) => `c#${uid}#faces`;
export const logPk = (uid: string) => `c#${uid}#log`;
const seqKey = (seq: number) => String(seq).padStart(15, '0');
const APPEND_ATTEMPTS = 50;
/**
 * Face ids per `remove-faces` entry. A DynamoDB item holds at most 400 KB and an id is 36
 * bytes plus a few of list overhead, so one entry for an identity of 10,000 or more faces would
 * be refused and the removal could never finish; 4,000 ids stay near 160 KB.
 */
export const REMOVE_FACES_PER_ENTRY = 4000;

/** The `remove-faces` entries that drop these faces, each small enough for one item. */
export function removeFacesEntries(faceIds: readonly string[], perEntry = REMOVE_FACES_PER_ENTRY): { op: 'remove-faces'; faceIds: string[] }[] {
  const out: { op: 'remove-faces'; faceIds: string[] }[] = [];
  for (let i = 0; i < faceIds.length; i += perEntry) out.push({ op: 'remove-faces', faceIds: faceIds.slice(i, i + perEntry) });
  return out;
}
/** Orders faces created in the same millisecond by this process. */
let created = 0;
const orderKey = (createdAt: string) => `${createdAt}#${String(++created % 1e9).padStart(9, '0')}`;

export interface FaceItem extends Item {
  faceId: string;
  identity: string;
  generation: string;
  descriptor: Uint8Array;
  source?: string;
  pipeline?: string;
  contentHash?: string;
  createdAt: string;
  /** createdAt plus a tie-breaker; absent on faces moved from the legacy layout. */
  ord?: string;
}

export interface CollectionItem extends Item, CollectionSettings {
  name: string;
  uid: string;
  createdAt: string;
}

export class DynamoCollectionGallery implements CollectionGallery {
  constructor(
    readonly collection: string,
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly ready: () => Promise<void>,
  ) {}

  /** The collection's record, or null. One consistent GetItem. */
  private async meta(): Promise<CollectionItem | null> {
    await this.ready();
    const out = await awsCall(`read collection ${this.collection}`, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: COLLECTIONS_PK, sk: this.collection }, ConsistentRead: true })),
    );
    return (out.Item as CollectionItem | undefined) ?? null;
  }

  private async uid(): Promise<string> {
    const meta = await this.meta();
    if (!meta) throw new NotFoundError(`collection ${this.collection} does not exist`);
    return meta.uid;
  }

  async createIdentity(name: string): Promise<Identity> {
    const uid = await this.uid();
    const createdAt = new Date().toISOString();
    await this.putIdentity(uid, name, createdAt);
    return { name, faceCount: 0, createdAt };
  }

  private async putIdentity(uid: string, name: string, createdAt: string): Promise<Item> {
    const item = { pk: identitiesPk(uid), sk: name, name, createdAt, generation: randomUUID() };
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(`identity ${name} already exists`, { cause: err });
      throw classifyAwsError(err, `create identity ${name}`);
    }
    await this.append(uid, { op: 'create-identity', identity: name });
    return item;
  }

  private async identityItem(uid: string, name: string): Promise<Item | undefined> {
    const out = await awsCall(`get identity ${name}`, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: identitiesPk(uid), sk: name }, ConsistentRead: true })),
    );
    return out.Item as Item | undefined;
  }

  async getIdentity(name: string): Promise<Identity | null> {
    const meta = await this.meta();
    if (!meta) return null;
    const identity = await this.identityItem(meta.uid, name);
    if (!identity) return null;
    const faces = await this.facesOf(meta.uid, identity);
    return { name, faceCount: faces.length, createdAt: identity.createdAt as string };
  }

  async listIdentities(): Promise<Identity[]> {
    const meta = await this.meta();
    if (!meta) return [];
    const { identities, faces } = await this.readAll(meta.uid);
    const counts = new Map<string, number>();
    for (const f of faces) counts.set(f.identity, (counts.get(f.identity) ?? 0) + 1);
    return identities.map((i) => ({ name: i.name as string, faceCount: counts.get(i.name as string) ?? 0, createdAt: i.createdAt as string }));
  }

  async removeIdentity(name: string): Promise<boolean> {
    const meta = await this.meta();
    if (!meta) return false;
    const out = await awsCall(`remove identity ${name}`, () =>
      this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: identitiesPk(meta.uid), sk: name }, ReturnValues: 'ALL_OLD' })),
    );
    const faces = await queryAll(this.doc, this.table, facesPk(meta.uid), { prefix: `${name}/` });
    await deleteKeys(this.doc, this.table, faces.map((f) => ({ pk: f.pk, sk: f.sk })));
    const existed = out.Attributes !== undefined;
    // Always, so that removing again repairs a removal that stopped before its log was scrubbed
    // (the identity and faces gone, the entries naming it still there). Nothing to do is a no-op.
    await this.forgetIdentityInLog(meta.uid, name, faces.map((f) => f.faceId as string));
    return existed;
  }

  /**
   * The change log forgets a removed identity (a removed person's name and descriptors must not
   * stay in the table): every entry that names it becomes `forgotten`, and `remove-faces`
   * entries, without the name, drop by id every face it ever had (`removeFacesEntries`). A reader past the old entries
   * drops the faces; one before them never sees them added. The log has no index by identity,
   * so this reads the collection's whole log once (a Query, paged): removals are rare, the feed
   * is read on every enrollment. A crash part-way is repaired by removing the identity again.
   */
  private async forgetIdentityInLog(uid: string, name: string, current: string[]): Promise<void> {
    const entries = (await queryAll(this.doc, this.table, logPk(uid), { what: `read the change log of ${this.collection}` })).filter((e) => e.identity === name);
    // A face removed on its own earlier has a named `remove` entry (its `add` is forgotten already).
    const faceIds = [...new Set([...current, ...entries.filter((e) => e.op === 'add' || e.op === 'remove').map((e) => e.faceId as string)])];
    for (const entry of removeFacesEntries(faceIds)) await this.append(uid, entry);
    await this.forget(entries);
  }

  /** Replace log entries with `forgotten` ones at the same sequence numbers (no gap in the feed). */
  private async forget(entries: Item[]): Promise<void> {
    for (const e of entries) {
      await awsCall('scrub the change log', () => this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: e.pk, sk: e.sk, op: 'forgotten', at: e.at } })));
    }
  }

  async addFace(name: string, face: NewFace): Promise<EnrolledFace> {
    const uid = await this.uid();
    let identity = await this.identityItem(uid, name);
    if (!identity) {
      try {
        identity = await this.putIdentity(uid, name, new Date().toISOString());
      } catch (err) {
        // Someone created it between our read and our write: use theirs.
        if (!(err instanceof AlreadyExistsError)) throw err;
        identity = await this.identityItem(uid, name);
        if (!identity) throw new StoreUnavailableError(`identity ${name} vanished while a face was added`);
      }
    }
    const faceId = randomUUID();
    const createdAt = new Date().toISOString();
    const item: FaceItem = {
      pk: facesPk(uid),
      sk: `${name}/${faceId}`,
      faceId,
      identity: name,
      generation: identity.generation as string,
      descriptor: encodeDescriptor(face.descriptor),
      ...(face.source !== undefined ? { source: face.source } : {}),
      pipeline: face.pipeline ?? 'standard',
      ...(face.contentHash !== undefined ? { contentHash: face.contentHash } : {}),
      createdAt,
      ord: orderKey(createdAt),
    };
    await awsCall(`add face to ${name}`, () => this.doc.send(new PutCommand({ TableName: this.table, Item: item })));
    const { pk: _pk, sk: _sk, ...carried } = item;
    await this.append(uid, { op: 'add', ...carried });
    return toFace(item);
  }

  async removeFace(identity: string, faceId: string): Promise<boolean> {
    const meta = await this.meta();
    if (!meta) return false;
    const out = await awsCall(`remove face ${faceId}`, () =>
      this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: facesPk(meta.uid), sk: `${identity}/${faceId}` }, ReturnValues: 'ALL_OLD' })),
    );
    if (out.Attributes === undefined) return false;
    await this.append(meta.uid, { op: 'remove', identity, faceId });
    // The face's `add` entry carries its descriptor: forget it too (one read of the log, as for identities).
    const log = await queryAll(this.doc, this.table, logPk(meta.uid), { what: `read the change log of ${this.collection}` });
    await this.forget(log.filter((e) => e.op === 'add' && e.faceId === faceId));
    return true;
  }

  async findFaceByHash(identity: string, contentHash: string): Promise<EnrolledFace | null> {
    return (await this.listFacesOf(identity)).find((f) => f.contentHash === contentHash) ?? null;
  }

  async listFacesOf(identity: string): Promise<EnrolledFace[]> {
    const meta = await this.meta();
    if (!meta) return [];
    const item = await this.identityItem(meta.uid, identity);
    return item ? (await this.facesOf(meta.uid, item)).map(toFace) : [];
  }

  async listFaces(): Promise<EnrolledFace[]> {
    const meta = await this.meta();
    if (!meta) return [];
    return (await this.readAll(meta.uid)).faces.map(toFace);
  }

  async eachFace(visit: (face: IndexRow) => void): Promise<number> {
    const meta = await this.meta();
    if (!meta) return 0;
    // The items are read whole (Query pages); each face object is made only while it is visited.
    const { faces } = await this.readAll(meta.uid);
    const row: IndexRow = { id: '', identity: '', descriptor: new Float32Array(0), pipeline: 'standard' };
    for (const item of faces) {
      row.id = item.faceId;
      row.identity = item.identity;
      row.descriptor = decodeDescriptor(item.descriptor);
      row.pipeline = toPipeline(item.pipeline);
      visit(row);
    }
    return faces.length;
  }

  async version(): Promise<string> {
    const meta = await this.meta();
    if (!meta) return 'none.0';
    const last = await lastItem(this.doc, this.table, logPk(meta.uid));
    return `${meta.uid}.${last ? Number(last.sk) : 0}`;
  }

  async changesSince(version: string): Promise<GalleryChanges | null> {
    const [uid, seqText] = version.split('.');
    const from = Number(seqText);
    const meta = await this.meta();
    if (!meta || uid !== meta.uid || !Number.isSafeInteger(from) || from < 0) return null;
    const items = await queryAll(this.doc, this.table, logPk(meta.uid), { after: seqKey(from), what: `read the change log of ${this.collection}` });
    const changes = items.flatMap(toChanges);
    const last = items.length > 0 ? Number(items[items.length - 1]!.sk) : from;
    return { version: `${meta.uid}.${last}`, changes };
  }

  /** Faces of the identity's current generation, oldest first. */
  private async facesOf(uid: string, identity: Item): Promise<FaceItem[]> {
    const faces = (await queryAll(this.doc, this.table, facesPk(uid), { prefix: `${identity.name as string}/` })) as FaceItem[];
    return faces.filter((f) => f.generation === identity.generation).sort(byCreated);
  }

  /** Every identity, by name, and every face whose identity exists (same generation). */
  private async readAll(uid: string): Promise<{ identities: Item[]; faces: FaceItem[] }> {
    const identities = await queryAll(this.doc, this.table, identitiesPk(uid));
    const generations = new Map(identities.map((i) => [i.name as string, i.generation]));
    const faces = ((await queryAll(this.doc, this.table, facesPk(uid))) as FaceItem[]).filter((f) => generations.get(f.identity) === f.generation);
    faces.sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : byCreated(a, b)));
    return { identities, faces };
  }

  /**
   * Append to the change log at the next sequence number. The Put is conditional on that
   * number being free, so concurrent writers each take their own; the loser reads the end
   * again. A crash between a write and its entry leaves the change out of the feed until the
   * next full load of the collection.
   */
  private async append(uid: string, entry: Record<string, unknown>): Promise<void> {
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const last = await lastItem(this.doc, this.table, logPk(uid));
      const seq = (last ? Number(last.sk) : 0) + 1;
      try {
        await this.doc.send(
          new PutCommand({ TableName: this.table, Item: { ...entry, pk: logPk(uid), sk: seqKey(seq), at: new Date().toISOString() }, ConditionExpression: 'attribute_not_exists(pk)' }),
        );
        return;
      } catch (err) {
        if (awsErrorCode(err) !== 'ConditionalCheckFailedException') throw classifyAwsError(err, 'append to the change log');
        await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
      }
    }
    throw new StoreUnavailableError(`change log of ${this.collection}: too many concurrent writers`);
  }
}

function byCreated(a: FaceItem, b: FaceItem): number {
  return (a.ord ?? a.createdAt).localeCompare(b.ord ?? b.createdAt) || a.faceId.localeCompare(b.faceId);
}

/** The changes one log entry stands for: none for a `forgotten` one, one per face for `remove-faces`. */
function toChanges(item: Item): GalleryChange[] {
  const identity = item.identity as string;
  if (item.op === 'forgotten') return [];
  if (item.op === 'remove-faces') return ((item.faceIds as string[] | undefined) ?? []).map((faceId) => ({ op: 'remove', identity: '', faceId }));
  if (item.op === 'add') return [{ op: 'add', face: toFace(item as FaceItem) }];
  if (item.op === 'remove') return [{ op: 'remove', identity, faceId: item.faceId as string }];
  if (item.op === 'remove-identity') return [{ op: 'remove-identity', identity }];
  return [{ op: 'create-identity', identity }];
}

export function toFace(item: FaceItem): EnrolledFace {
  return {
    id: item.faceId,
    identity: item.identity,
    descriptor: decodeDescriptor(item.descriptor),
    ...(item.source !== undefined ? { source: item.source } : {}),
    pipeline: toPipeline(item.pipeline),
    ...(item.contentHash !== undefined ? { contentHash: item.contentHash } : {}),
    createdAt: item.createdAt,
  };
}
