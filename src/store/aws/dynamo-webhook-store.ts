import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WebhookDisabled, WebhookEndpoint, WebhookStore } from '../ports.js';
import { AlreadyExistsError } from '../errors.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';
import { queryAll } from './dynamo-items.js';

export interface DynamoWebhookStoreOptions {
  doc: DynamoDBDocumentClient;
  /** The gallery table (string `pk`, string `sk`): endpoints live in a partition per collection. */
  table: string;
}

/** The partition of a collection's webhook endpoints; no gallery partition starts this way. */
const pkOf = (collection: string) => `webhooks#${collection}`;

/**
 * WebhookStore on DynamoDB, in the gallery table: one item per endpoint, `pk = webhooks#<collection>`,
 * `sk = <id>`. A collection's endpoints are one Query; no new table to provision.
 */
export class DynamoWebhookStore implements WebhookStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoWebhookStoreOptions) {
    this.doc = options.doc;
    this.table = options.table;
  }

  async create(endpoint: WebhookEndpoint): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: pkOf(endpoint.collection), sk: endpoint.id, ...endpoint },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(`webhook ${endpoint.id} already exists`, { cause: err });
      throw classifyAwsError(err, `create webhook ${endpoint.id}`);
    }
  }

  async get(collection: string, id: string): Promise<WebhookEndpoint | null> {
    const out = await awsCall(`get webhook ${id}`, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: pkOf(collection), sk: id }, ConsistentRead: true })),
    );
    return out.Item ? toEndpoint(out.Item) : null;
  }

  async list(collection: string): Promise<WebhookEndpoint[]> {
    const items = await queryAll(this.doc, this.table, pkOf(collection), { what: `list webhooks of ${collection}` });
    return items.map(toEndpoint).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async delete(collection: string, id: string): Promise<boolean> {
    const out = await awsCall(`delete webhook ${id}`, () =>
      this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: pkOf(collection), sk: id }, ReturnValues: 'ALL_OLD' })),
    );
    return out.Attributes !== undefined;
  }

  async setDisabled(collection: string, id: string, disabled: WebhookDisabled | null): Promise<WebhookEndpoint | null> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pkOf(collection), sk: id },
          // The condition keeps an update from making an endpoint that was removed.
          ConditionExpression: 'attribute_exists(pk)',
          ...(disabled
            ? { UpdateExpression: 'SET disabled = :d', ExpressionAttributeValues: { ':d': disabled } }
            : { UpdateExpression: 'REMOVE disabled' }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? toEndpoint(out.Attributes) : null;
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') return null;
      throw classifyAwsError(err, `${disabled ? 'disable' : 'enable'} webhook ${id}`);
    }
  }

  async close(): Promise<void> {}
}

function toEndpoint(item: Record<string, unknown>): WebhookEndpoint {
  return {
    id: item.id as string,
    collection: item.collection as string,
    url: item.url as string,
    events: [...((item.events as string[] | undefined) ?? [])],
    secret: item.secret as string,
    createdAt: item.createdAt as string,
    ...(item.disabled ? { disabled: { ...(item.disabled as WebhookDisabled) } } : {}),
  };
}
