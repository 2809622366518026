import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '../../log.js';
import { toPipeline, type RecognitionPipeline } from '../../recognition/types.js';
import type { EnrolledFace, Gallery, Identity } from '../ports.js';
import { AlreadyExistsError, StoreUnavailableError } from '../errors.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';

export interface DynamoGalleryOptions {
  doc: DynamoDBDocumentClient;
  /** Table with string partition key `pk` and string sort key `sk`. */
  table: string;
  log?: Logger;
}

const META_PK = '#meta';
const VERSION_SK = 'version';
const IDENTITY_SK = 'identity';
const FACE_SK = 'face#';

interface IdentityItem {
  pk: string;
  sk: typeof IDENTITY_SK;
  name: string;
  createdAt: string;
  /** Changes each time the name is created anew; faces carry it, so a face left over from a removed identity never joins a new one of the same name. */
  generation: string;
}

interface FaceItem {
  pk: string;
  sk: string;
  faceId: string;
  identity: string;
  generation: string;
  descriptor: Uint8Array;
  source?: string;
  /** Absent on faces stored before pipelines were recorded: those are standard's. */
  pipeline?: string;
  createdAt: string;
}

/**
 * Gallery on one DynamoDB table. Each identity is a partition (`pk = id#<name>`) holding an
 * identity item and one item per face, whose descriptor is a binary attribute (128 float32,
 * little-endian). A counter item is bumped with `ADD` after every mutation; its value is the
 * gallery version. No transactions: a face written while its identity is being removed can be
 * left behind, and is ignored because its `generation` no longer matches any identity item.
 * Reads scan the table; a gallery is small (a face is ~600 bytes) and workers read it only
 * when the version changes.
 */
export class DynamoGallery implements Gallery {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoGalleryOptions) {
    this.doc = options.doc;
    this.table = options.table;
  }

  async createIdentity(name: string): Promise<Identity> {
    const item: IdentityItem = { pk: pkOf(name), sk: IDENTITY_SK, name, createdAt: new Date().toISOString(), generation: randomUUID() };
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(`identity ${name} already exists`, { cause: err });
      throw classifyAwsError(err, `create identity ${name}`);
    }
    await this.bump();
    return { name, faceCount: 0, createdAt: item.createdAt };
  }

  async getIdentity(name: string): Promise<Identity | null> {
    const items = await this.queryPartition(name);
    const identity = items.find((i) => i.sk === IDENTITY_SK) as IdentityItem | undefined;
    if (!identity) return null;
    const faceCount = items.filter((i) => isFace(i) && i.generation === identity.generation).length;
    return { name: identity.name, faceCount, createdAt: identity.createdAt };
  }

  async listIdentities(): Promise<Identity[]> {
    const { identities, faces } = await this.scanAll();
    return [...identities.values()]
      .map((i) => ({ name: i.name, faceCount: faces.filter((f) => f.identity === i.name).length, createdAt: i.createdAt }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async removeIdentity(name: string): Promise<boolean> {
    const out = await awsCall(`remove identity ${name}`, () =>
      this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: pkOf(name), sk: IDENTITY_SK }, ReturnValues: 'ALL_OLD' })),
    );
    const existed = out.Attributes !== undefined;
    const faces = (await this.queryPartition(name)).filter(isFace);
    await this.deleteAll(faces.map((f) => ({ pk: f.pk, sk: f.sk })));
    if (existed || faces.length > 0) await this.bump();
    return existed;
  }

  async addFace(name: string, face: { descriptor: Float32Array; source?: string; pipeline?: RecognitionPipeline }): Promise<EnrolledFace> {
    const identity = await this.ensureIdentity(name);
    const item: FaceItem = {
      pk: pkOf(name),
      sk: `${FACE_SK}${randomUUID()}`,
      faceId: '',
      identity: name,
      generation: identity.generation,
      descriptor: encodeDescriptor(face.descriptor),
      ...(face.source !== undefined ? { source: face.source } : {}),
      pipeline: face.pipeline ?? 'standard',
      createdAt: new Date().toISOString(),
    };
    item.faceId = item.sk.slice(FACE_SK.length);
    await awsCall(`add face to ${name}`, () => this.doc.send(new PutCommand({ TableName: this.table, Item: item })));
    await this.bump();
    return toFace(item);
  }

  async listFaces(): Promise<EnrolledFace[]> {
    const { faces } = await this.scanAll();
    return faces.map(toFace);
  }

  async version(): Promise<string> {
    const out = await awsCall('read gallery version', () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: META_PK, sk: VERSION_SK }, ConsistentRead: true })),
    );
    return String((out.Item?.n as number | undefined) ?? 0);
  }

  async ping(): Promise<void> {
    await this.version();
  }

  async close(): Promise<void> {}

  private async ensureIdentity(name: string): Promise<IdentityItem> {
    const key = { pk: pkOf(name), sk: IDENTITY_SK };
    const found = await awsCall(`get identity ${name}`, () => this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true })));
    if (found.Item) return found.Item as IdentityItem;
    try {
      return await this.createIdentity(name).then(async () => {
        const again = await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
        if (!again.Item) throw new StoreUnavailableError(`identity ${name} vanished while a face was added`);
        return again.Item as IdentityItem;
      });
    } catch (err) {
      // Someone created it between our read and our write: use theirs.
      if (!(err instanceof AlreadyExistsError)) throw classifyAwsError(err, `create identity ${name}`);
      const again = await awsCall(`get identity ${name}`, () => this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true })));
      if (!again.Item) throw new StoreUnavailableError(`identity ${name} vanished while a face was added`);
      return again.Item as IdentityItem;
    }
  }

  /** Every face whose identity exists (same generation), and every identity. */
  private async scanAll(): Promise<{ identities: Map<string, IdentityItem>; faces: FaceItem[] }> {
    const identities = new Map<string, IdentityItem>();
    const faces: FaceItem[] = [];
    let next: Record<string, unknown> | undefined;
    do {
      const out = await awsCall('scan gallery', () =>
        this.doc.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ...(next ? { ExclusiveStartKey: next } : {}) })),
      );
      for (const raw of out.Items ?? []) {
        if (raw.pk === META_PK) continue;
        if (raw.sk === IDENTITY_SK) identities.set(raw.name as string, raw as IdentityItem);
        else if (isFace(raw)) faces.push(raw);
      }
      next = out.LastEvaluatedKey;
    } while (next);
    const live = faces.filter((f) => identities.get(f.identity)?.generation === f.generation);
    live.sort((a, b) => a.identity.localeCompare(b.identity) || a.createdAt.localeCompare(b.createdAt) || a.faceId.localeCompare(b.faceId));
    return { identities, faces: live };
  }

  private async queryPartition(name: string): Promise<Array<Record<string, unknown> & { sk: string }>> {
    const items: Array<Record<string, unknown> & { sk: string }> = [];
    let next: Record<string, unknown> | undefined;
    do {
      const out = await awsCall(`read identity ${name}`, () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pkOf(name) },
            ConsistentRead: true,
            ...(next ? { ExclusiveStartKey: next } : {}),
          }),
        ),
      );
      items.push(...((out.Items ?? []) as Array<Record<string, unknown> & { sk: string }>));
      next = out.LastEvaluatedKey;
    } while (next);
    return items;
  }

  /** BatchWriteItem in chunks of 25, retrying what DynamoDB leaves unprocessed (throttling). */
  private async deleteAll(keys: Array<{ pk: string; sk: string }>): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
        if (attempt >= 8) throw new StoreUnavailableError('gallery delete: DynamoDB left items unprocessed');
        const out = await awsCall('delete faces', () => this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } })));
        requests = (out.UnprocessedItems?.[this.table] ?? []) as typeof requests;
      }
    }
  }

  private async bump(): Promise<void> {
    await awsCall('bump gallery version', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: META_PK, sk: VERSION_SK },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      ),
    );
  }
}

function pkOf(name: string): string {
  return `id#${name}`;
}

function isFace(item: Record<string, unknown>): item is FaceItem & Record<string, unknown> {
  return typeof item.sk === 'string' && item.sk.startsWith(FACE_SK);
}

function toFace(item: FaceItem): EnrolledFace {
  return {
    id: item.faceId,
    identity: item.identity,
    descriptor: decodeDescriptor(item.descriptor),
    ...(item.source !== undefined ? { source: item.source } : {}),
    pipeline: toPipeline(item.pipeline),
    createdAt: item.createdAt,
  };
}

/** float32 little-endian, whatever the host's byte order. */
export function encodeDescriptor(d: Float32Array): Uint8Array {
  const out = new Uint8Array(d.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < d.length; i++) view.setFloat32(i * 4, d[i]!, true);
  return out;
}

export function decodeDescriptor(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
