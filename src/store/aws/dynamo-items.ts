import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchWriteCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { StoreUnavailableError } from '../errors.js';
import { awsCall } from './errors.js';

export type Item = Record<string, unknown> & { pk: string; sk: string };

/** Every item of one partition (optionally `sk` beginning with `prefix`), paging through. */
export async function queryAll(
  doc: DynamoDBDocumentClient,
  table: string,
  pk: string,
  options: { prefix?: string; filter?: { expression: string; values: Record<string, unknown> }; after?: string; what?: string } = {},
): Promise<Item[]> {
  const items: Item[] = [];
  let next: Record<string, unknown> | undefined;
  const conditions = ['pk = :pk'];
  const values: Record<string, unknown> = { ':pk': pk, ...(options.filter?.values ?? {}) };
  if (options.prefix !== undefined) {
    conditions.push('begins_with(sk, :prefix)');
    values[':prefix'] = options.prefix;
  } else if (options.after !== undefined) {
    conditions.push('sk > :after');
    values[':after'] = options.after;
  }
  do {
    const input: QueryCommandInput = {
      TableName: table,
      KeyConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: values,
      ConsistentRead: true,
      ...(options.filter ? { FilterExpression: options.filter.expression } : {}),
      ...(next ? { ExclusiveStartKey: next } : {}),
    };
    const out = await awsCall(options.what ?? `read ${pk}`, () => doc.send(new QueryCommand(input)));
    items.push(...((out.Items ?? []) as Item[]));
    next = out.LastEvaluatedKey;
  } while (next);
  return items;
}

/** The last item of a partition by sort key, or undefined. */
export async function lastItem(doc: DynamoDBDocumentClient, table: string, pk: string): Promise<Item | undefined> {
  const out = await awsCall(`read the end of ${pk}`, () =>
    doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    ),
  );
  return out.Items?.[0] as Item | undefined;
}

/** BatchWriteItem deletes in chunks of 25, retrying what DynamoDB leaves unprocessed (throttling). */
export async function deleteKeys(doc: DynamoDBDocumentClient, table: string, keys: Array<{ pk: string; sk: string }>): Promise<void> {
  for (let i = 0; i < keys.length; i += 25) {
    let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
      if (attempt >= 8) throw new StoreUnavailableError('gallery delete: DynamoDB left items unprocessed');
      const out = await awsCall('delete gallery items', () => doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } })));
      requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }
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
