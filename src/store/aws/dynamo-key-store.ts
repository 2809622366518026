import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyRecord, KeyStore } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';

export interface DynamoKeyStoreOptions {
  doc: DynamoDBDocumentClient;
  /** Table with string partition key `id`. */
  table: string;
}

/** KeyStore on DynamoDB: one item per API key, keyed by its public id. */
export class DynamoKeyStore implements KeyStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoKeyStoreOptions) {
    this.doc = options.doc;
    this.table = options.table;
  }

  async create(record: ApiKeyRecord): Promise<void> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: { ...record }, ConditionExpression: 'attribute_not_exists(id)' }));
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(`API key ${record.id} already exists`, { cause: err });
      throw classifyAwsError(err, `create API key ${record.id}`);
    }
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    const out = await awsCall(`get API key ${id}`, () => this.doc.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true })));
    return out.Item ? toRecord(out.Item) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    let next: Record<string, unknown> | undefined;
    do {
      const out = await awsCall('list API keys', () =>
        this.doc.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ...(next ? { ExclusiveStartKey: next } : {}) })),
      );
      records.push(...(out.Items ?? []).map(toRecord));
      next = out.LastEvaluatedKey;
    } while (next);
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async revoke(id: string, at: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id },
          UpdateExpression: 'SET revokedAt = :at',
          // Without the condition, UpdateItem would create a half-empty key item.
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') return false;
      throw classifyAwsError(err, `revoke API key ${id}`);
    }
  }

  async close(): Promise<void> {}
}

function toRecord(item: Record<string, unknown>): ApiKeyRecord {
  const r: ApiKeyRecord = {
    id: item.id as string,
    role: item.role as ApiKeyRecord['role'],
    hash: item.hash as string,
    salt: item.salt as string,
    createdAt: item.createdAt as string,
  };
  if (typeof item.name === 'string') r.name = item.name;
  if (typeof item.revokedAt === 'string') r.revokedAt = item.revokedAt;
  return r;
}
