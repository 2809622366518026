import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkerHeartbeat, WorkerRegistry } from '../ports.js';
import { awsCall } from './errors.js';

export interface DynamoWorkerRegistryOptions {
  doc: DynamoDBDocumentClient;
  /** Table with string partition key `workerId`. */
  table: string;
}

/**
 * WorkerRegistry on DynamoDB: one item per worker, replaced by every heartbeat (last writer
 * wins, which is right for a heartbeat). No TTL: the controller removes workers it stops.
 */
export class DynamoWorkerRegistry implements WorkerRegistry {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoWorkerRegistryOptions) {
    this.doc = options.doc;
    this.table = options.table;
  }

  async heartbeat(beat: WorkerHeartbeat): Promise<void> {
    await awsCall(`heartbeat of worker ${beat.workerId}`, () => this.doc.send(new PutCommand({ TableName: this.table, Item: { ...beat } })));
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
