import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_STATES, type JobRecord, type JobState } from '../../jobs/types.js';
import type { Logger } from '../../log.js';
import type { BlobStore, JobStore, ListOptions, Page } from '../ports.js';
import { AlreadyExistsError, InvalidCursorError, NotFoundError, StorePermanentError, VersionConflictError } from '../errors.js';
import { pageLimit } from '../cursor.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';

/**
 * Largest record body kept inline in the item. DynamoDB items hold 400 KB including attribute
 * names and the indexed copies; 300 KB leaves room for those.
 */
export const MAX_INLINE_RECORD_BYTES = 300 * 1024;

export interface DynamoJobStoreOptions {
  doc: DynamoDBDocumentClient;
  table: string;
  /** GSI with partition key `state` and sort key `updatedAt`. */
  stateIndex: string;
  /** Where bodies larger than {@link MAX_INLINE_RECORD_BYTES} go, under `records/jobs/`. */
  blobs: BlobStore;
  /** Inline limit override (tests). */
  maxInlineBytes?: number;
  log?: Logger;
}

/** The stored item. The record itself is one JSON string, so any snapshot shape round-trips. */
interface JobItem {
  id: string;
  version: number;
  state: JobState;
  updatedAt: string;
  createdAt: string;
  kind: string;
  /** The record, when it fits. */
  body?: string;
  /** Blob key of the record, when it does not. */
  bodyRef?: string;
}

/**
 * JobStore on DynamoDB (lib-dynamodb), one item per job keyed by `id`.
 *
 * - create-if-absent: PutItem with `attribute_not_exists(id)`.
 * - save-if-version: PutItem with `version = :expected`; a lost condition is a
 *   VersionConflictError when the item still exists and NotFoundError when it is gone (from
 *   `ReturnValuesOnConditionCheckFailure`, or a consistent read where the backend omits it).
 * - listByState: Query on the `state`/`updatedAt` GSI, oldest first; the cursor is the base64url
 *   LastEvaluatedKey. GSIs are eventually consistent on AWS: a job saved a moment ago may show
 *   up under its previous state for a short while.
 * - countByState: a `Select: COUNT` query per state on the same GSI.
 * - Records over ~300 KB: the body is written to the blob store first under a fresh key that
 *   names the version, then the item points at it; the previous version's blob is deleted after a
 *   successful save. No transactions are needed: a reader that finds a pointer whose blob was
 *   just replaced re-reads the item.
 */
export class DynamoJobStore implements JobStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly index: string;
  private readonly blobs: BlobStore;
  private readonly maxInline: number;
  private readonly log?: Logger;

  constructor(options: DynamoJobStoreOptions) {
    this.doc = options.doc;
    this.table = options.table;
    this.index = options.stateIndex;
    this.blobs = options.blobs;
    this.maxInline = options.maxInlineBytes ?? MAX_INLINE_RECORD_BYTES;
    this.log = options.log;
  }

  async create(record: JobRecord): Promise<void> {
    if (record.version !== 0) throw new StorePermanentError(`create job ${record.id}: a new record has version 0, got ${record.version}`);
    const item = await this.toItem(record, 0);
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(id)' }));
    } catch (err) {
      await this.dropBody(item);
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(`job ${record.id} already exists`, { cause: err });
      throw classifyAwsError(err, `create job ${record.id}`);
    }
  }

  async get(id: string): Promise<JobRecord | null> {
    // A pointer whose blob a concurrent save just replaced: read the item again.
    for (let tries = 0; ; tries++) {
      const out = await awsCall(`get job ${id}`, () => this.doc.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true })));
      if (!out.Item) return null;
      try {
        return await this.fromItem(out.Item as JobItem);
      } catch (err) {
        if (!(err instanceof NotFoundError) || tries >= 3) throw err;
      }
    }
  }

  async save(record: JobRecord, expectedVersion: number): Promise<JobRecord> {
    const saved: JobRecord = { ...record, version: expectedVersion + 1 };
    const item = await this.toItem(saved, saved.version);
    try {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          // Comparing a missing attribute is false, so this also fails when the item is gone.
          ConditionExpression: '#v = :expected',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':expected': expectedVersion },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const old = out.Attributes as JobItem | undefined;
      if (old?.bodyRef && old.bodyRef !== item.bodyRef) {
        await this.blobs.delete(old.bodyRef).catch((err) => this.log?.warn({ jobId: record.id, err: String(err) }, 'could not delete an old job body'));
      }
      return saved;
    } catch (err) {
      await this.dropBody(item);
      if (awsErrorCode(err) !== 'ConditionalCheckFailedException') throw classifyAwsError(err, `save job ${record.id}`);
      const current = (err as { Item?: unknown }).Item
        ? true
        : (await awsCall(`get job ${record.id}`, () => this.doc.send(new GetCommand({ TableName: this.table, Key: { id: record.id }, ConsistentRead: true, ProjectionExpression: 'id' })))).Item !== undefined;
      if (!current) throw new NotFoundError(`job ${record.id} not found`, { cause: err });
      throw new VersionConflictError(`job ${record.id} is no longer at version ${expectedVersion}`, { cause: err, details: { jobId: record.id, expectedVersion } });
    }
  }

  /** A query on the state index for `state`, from `start` when given. */
  private stateQuery(state: JobState, start?: Record<string, unknown>) {
    return {
      TableName: this.table,
      IndexName: this.index,
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':s': state },
      ...(start ? { ExclusiveStartKey: start } : {}),
    };
  }

  async listByState(state: JobState, options: ListOptions = {}): Promise<Page<JobRecord>> {
    const limit = pageLimit(options.limit);
    const start = options.cursor ? decodeKey(options.cursor) : undefined;
    const items: JobItem[] = [];
    let next: Record<string, unknown> | undefined = start;
    // A Query page may come back short (1 MB per call): keep going until the page is full.
    do {
      const out = await awsCall(`list ${state} jobs`, () =>
        this.doc.send(
          new QueryCommand({ ...this.stateQuery(state, next), ScanIndexForward: true, Limit: limit - items.length }),
        ),
      );
      items.push(...((out.Items ?? []) as JobItem[]));
      next = out.LastEvaluatedKey;
    } while (next && items.length < limit);
    // DynamoDB returns a LastEvaluatedKey after a full page even when nothing follows; look
    // one item ahead so the last page carries no cursor, as the port promises.
    if (next && !(await this.anyAfter(state, next))) next = undefined;
    const records = await Promise.all(items.map((i) => this.fromItemOrReload(i)));
    // A record re-read because its body moved on may have left this state meanwhile.
    const page: Page<JobRecord> = { items: records.filter((r): r is JobRecord => r !== null && r.state === state) };
    return next ? { ...page, cursor: encodeKey(next) } : page;
  }

  async countByState(): Promise<Record<JobState, number>> {
    const counts = {} as Record<JobState, number>;
    await Promise.all(
      JOB_STATES.map(async (state) => {
        let n = 0;
        let next: Record<string, unknown> | undefined;
        do {
          const out = await awsCall(`count ${state} jobs`, () =>
            this.doc.send(
              new QueryCommand({ ...this.stateQuery(state, next), Select: 'COUNT' }),
            ),
          );
          n += out.Count ?? 0;
          next = out.LastEvaluatedKey;
        } while (next);
        counts[state] = n;
      }),
    );
    return counts;
  }

  async delete(id: string): Promise<void> {
    const out = await awsCall(`delete job ${id}`, () => this.doc.send(new DeleteCommand({ TableName: this.table, Key: { id }, ReturnValues: 'ALL_OLD' })));
    const old = out.Attributes as JobItem | undefined;
    if (old?.bodyRef) await this.blobs.delete(old.bodyRef).catch(() => undefined);
  }

  async ping(): Promise<void> {
    await awsCall('ping job table', () => this.doc.send(new GetCommand({ TableName: this.table, Key: { id: '#ping' } })));
  }

  async close(): Promise<void> {}

  private async anyAfter(state: JobState, key: Record<string, unknown>): Promise<boolean> {
    const out = await awsCall(`list ${state} jobs`, () =>
      this.doc.send(
        new QueryCommand({ ...this.stateQuery(state, key), Limit: 1, ProjectionExpression: 'id' }),
      ),
    );
    return (out.Items?.length ?? 0) > 0;
  }

  private async toItem(record: JobRecord, version: number): Promise<JobItem> {
    const body = JSON.stringify({ ...record, version });
    const base = { id: record.id, version, state: record.state, updatedAt: record.updatedAt, createdAt: record.createdAt, kind: record.kind };
    if (Buffer.byteLength(body, 'utf8') <= this.maxInline) return { ...base, body };
    // A key of its own per write: two savers racing from the same version must not overwrite
    // (or, when one loses, delete) the blob the winner's item points to.
    const bodyRef = `records/jobs/${safeSegment(record.id)}/v${version}-${randomUUID()}.json`;
    await this.blobs.put(bodyRef, Buffer.from(body, 'utf8'), { contentType: 'application/json' });
    return { ...base, bodyRef };
  }

  /** After a lost write, remove the body blob it wrote (never the one the stored item uses). */
  private async dropBody(item: JobItem): Promise<void> {
    if (item.bodyRef) await this.blobs.delete(item.bodyRef).catch(() => undefined);
  }

  private async fromItem(item: JobItem): Promise<JobRecord> {
    if (typeof item.body === 'string') return JSON.parse(item.body) as JobRecord;
    if (typeof item.bodyRef === 'string') return JSON.parse((await this.blobs.get(item.bodyRef)).toString('utf8')) as JobRecord;
    throw new StorePermanentError(`job item ${item.id} has neither a body nor a body reference`);
  }

  private async fromItemOrReload(item: JobItem): Promise<JobRecord | null> {
    try {
      return await this.fromItem(item);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      return this.get(item.id);
    }
  }
}

function encodeKey(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeKey(cursor: string): Record<string, unknown> {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof key === 'object' && key !== null && !Array.isArray(key)) return key as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}

/** Job ids are generated by us, but a blob key segment must stay inside `[A-Za-z0-9._-]`. */
function safeSegment(id: string): string {
  return /^[A-Za-z0-9._-]+$/.test(id) && id !== '.' && id !== '..' ? id : Buffer.from(id, 'utf8').toString('base64url');
}
