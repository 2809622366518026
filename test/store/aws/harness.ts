/**
 * Shared setup for the AWS adapter suites: one pair of emulators per test file, a fresh
 * prefix (and fresh resources) per store the contract asks for.
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DeleteTableCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { createAwsClients, type AwsClients } from '../../../src/aws/clients.js';
import { resourceNames, type ResourceNames } from '../../../src/aws/names.js';
import { deadLetterQueueAttributes, queueAttributes, tableDefinitions } from '../../../src/aws/resources.js';
import { DynamoJobStore } from '../../../src/store/aws/dynamo-job-store.js';
import { S3BlobStore } from '../../../src/store/aws/s3-blob-store.js';
import { startEmulators, testPrefix, type Emulators } from '../../helpers/emulators.js';

export interface AwsTestEnv {
  emulators: Emulators;
  clients: AwsClients;
}

/** Start emulators and clients for this file; the returned object is filled in by beforeAll. */
export function useEmulators(): AwsTestEnv {
  const env = {} as AwsTestEnv;
  beforeAll(async () => {
    env.emulators = await startEmulators();
    env.clients = createAwsClients(env.emulators.clientOptions);
  });
  afterAll(async () => {
    env.clients?.destroy();
    await env.emulators?.stop();
  });
  return env;
}

export async function createBucket(env: AwsTestEnv, names: ResourceNames): Promise<() => Promise<void>> {
  await env.clients.s3.send(new CreateBucketCommand({ Bucket: names.bucket }));
  return async () => {
    const listed = await env.clients.s3.send(new ListObjectsV2Command({ Bucket: names.bucket }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await env.clients.s3.send(new DeleteObjectsCommand({ Bucket: names.bucket, Delete: { Objects: keys } }));
    await env.clients.s3.send(new DeleteBucketCommand({ Bucket: names.bucket }));
  };
}

export async function createQueues(env: AwsTestEnv, names: ResourceNames, maxReceiveCount: number): Promise<() => Promise<void>> {
  const { sqs } = env.clients;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: names.deadLetterQueue, Attributes: deadLetterQueueAttributes() }));
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const main = await sqs.send(
    new CreateQueueCommand({ QueueName: names.queue, Attributes: queueAttributes({ visibilitySeconds: 30, maxReceiveCount, deadLetterArn: arn }) }),
  );
  return async () => {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: main.QueueUrl }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: dlq.QueueUrl }));
  };
}

export async function createTables(env: AwsTestEnv, names: ResourceNames, which: string[]): Promise<() => Promise<void>> {
  const defs = tableDefinitions(names).filter((t) => which.includes(t.TableName!));
  for (const def of defs) await env.clients.dynamodb.send(new CreateTableCommand(def));
  // dynalite is started with 5 ms create/delete delays; give the tables that long.
  await new Promise((r) => setTimeout(r, 20));
  return async () => {
    for (const def of defs) await env.clients.dynamodb.send(new DeleteTableCommand({ TableName: def.TableName }));
  };
}

/** A fresh jobs table and bucket, with the job store that keeps large records in the bucket; `cleanup` drops both. */
export async function jobStoreWithBlobs(env: AwsTestEnv, label: string): Promise<{ names: ResourceNames; blobs: S3BlobStore; jobs: DynamoJobStore; cleanup: () => Promise<void> }> {
  const names = freshNames(label);
  const dropTables = await createTables(env, names, [names.jobsTable]);
  const dropBucket = await createBucket(env, names);
  const blobs = new S3BlobStore({ s3: env.clients.s3, bucket: names.bucket });
  const jobs = new DynamoJobStore({ doc: env.clients.doc, table: names.jobsTable, stateIndex: names.jobsStateIndex, blobs });
  return {
    names,
    blobs,
    jobs,
    cleanup: async () => {
      await dropTables();
      await dropBucket();
    },
  };
}

export function freshNames(label: string): ResourceNames {
  return resourceNames(testPrefix(label));
}

/** The raw bytes of an item: every string (UTF-8) and binary value, keys and nested ones included. */
function itemBytes(value: AttributeValue | Record<string, AttributeValue>): Buffer[] {
  const v = value as AttributeValue;
  if (v.S !== undefined) return [Buffer.from(v.S)];
  if (v.N !== undefined) return [Buffer.from(v.N)];
  if (v.B !== undefined) return [Buffer.from(v.B)];
  if (v.SS) return v.SS.map((x) => Buffer.from(x));
  if (v.BS) return v.BS.map((x) => Buffer.from(x));
  if (v.L) return v.L.flatMap(itemBytes);
  if (v.M) return Object.values(v.M).flatMap(itemBytes);
  if (v.BOOL !== undefined || v.NULL !== undefined) return [];
  return Object.values(value as Record<string, AttributeValue>).flatMap(itemBytes);
}

/**
 * Every item of `table` (a full Scan: test tables are small) holding one of `needles` in any
 * string or binary attribute, as `<pk>/<sk>: label`. The DynamoDB side of the residue checks.
 */
export async function itemsContaining(env: AwsTestEnv, table: string, needles: Record<string, Buffer>): Promise<string[]> {
  const found: string[] = [];
  let next: Record<string, AttributeValue> | undefined;
  do {
    const page = await env.clients.dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(next ? { ExclusiveStartKey: next } : {}) }));
    for (const item of page.Items ?? []) {
      const bytes = Buffer.concat(itemBytes(item));
      for (const [label, needle] of Object.entries(needles)) if (needle.length > 0 && bytes.includes(needle)) found.push(`${item.pk?.S}/${item.sk?.S}: ${label}`);
    }
    next = page.LastEvaluatedKey;
  } while (next);
  return found;
}
