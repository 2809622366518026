import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HeartbeatReply, WorkerHeartbeat, WorkerRegistry } from '../ports.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';

export interface DynamoWorkerRegistryOptions {
  doc: DynamoDBDocumentClient;
  /** Table with string partition key `workerId`. */
  table: string;
}

/** The heartbeat's attributes; the ones a beat may leave out are removed when it does. */
const OPTIONAL: readonly (keyof WorkerHeartbeat)[] = ['instanceId', 'jobId', 'meanJobSeconds'];

/**
 * WorkerRegistry on DynamoDB: one item per worker, overwritten by every heartbeat (last writer
 * wins, which is right for a heartbeat) except for `retireAt`, which the controller sets and
 * the heartbeat's update returns. No TTL: the controller removes workers it stops.
 */
export class DynamoWorkerRegistry implements WorkerRegistry {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoWorkerRegistryOptions) {
    this.doc = options.doc;
    this.table = options.table;
  }

  async heartbeat(beat: WorkerHeartbeat): Promise<HeartbeatReply> {
    const { workerId, ...fields } = beat;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const set: string[] = [];
    const remove: string[] = [];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      set.push(`#${k} = :${k}`);
    }
    for (const k of OPTIONAL) {
      if (fields[k as Exclude<keyof WorkerHeartbeat, 'workerId'>] !== undefined) continue;
      names[`#${k}`] = k;
      remove.push(`#${k}`);
    }
    const out = await awsCall(`heartbeat of worker ${workerId}`, () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { workerId },
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return { retire: typeof out.Attributes?.retireAt === 'string' };
  }

  async retire(workerId: string, at: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { workerId },
          UpdateExpression: 'SET retireAt = :at',
          ConditionExpression: 'attribute_exists(workerId)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (err) {
      // Not registered (never was, or removed meanwhile): nothing to retire.
      if (awsErrorCode(err) !== 'ConditionalCheckFailedException') throw classifyAwsError(err, `retire worker ${workerId}`);
    }
  }

  async list(): Promise<WorkerHeartbeat[]> {
    const beats: WorkerHeartbeat[] = [];
    let next: Record<string, unknown> | undefined;
    do {
      const out = await awsCall('list workers', () =>
        this.doc.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ...(next ? { ExclusiveStartKey: next } : {}) })),
      );
      beats.push(...(out.Items ?? []).map(toBeat));
      next = out.LastEvaluatedKey;
    } while (next);
    return beats.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  async remove(workerId: string): Promise<void> {
    await awsCall(`remove worker ${workerId}`, () => this.doc.send(new DeleteCommand({ TableName: this.table, Key: { workerId } })));
  }

  async close(): Promise<void> {}
}

function toBeat(item: Record<string, unknown>): WorkerHeartbeat {
  const b: WorkerHeartbeat = {
    workerId: item.workerId as string,
    busy: item.busy === true,
    at: item.at as string,
    jobsDone: Number(item.jobsDone ?? 0),
  };
  if (typeof item.instanceId === 'string') b.instanceId = item.instanceId;
  if (typeof item.jobId === 'string') b.jobId = item.jobId;
  if (typeof item.meanJobSeconds === 'number') b.meanJobSeconds = item.meanJobSeconds;
  return b;
}
