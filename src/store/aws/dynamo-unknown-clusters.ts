import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { UnknownCluster, UnknownClusterStore } from '../ports.js';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../errors.js';
import { decodeCluster, encodeCluster } from '../unknown-record.js';
import { awsCall, awsErrorCode, classifyAwsError } from './errors.js';
import { queryAll, type Item } from './dynamo-items.js';

/** `c#<uid>#unknowns` / `<cluster id>`: one item per cluster, in the collection incarnation's partitions. */
export const unknownsPk = (uid: string) => `c#${uid}#unknowns`;

interface ClusterItem extends Item {
  version: number;
  descriptors: Uint8Array;
  body: string;
}

/**
 * One collection's unknown clusters on DynamoDB. Every write is a single conditional Put on the
 * cluster's `version` (no transactions); `list` is one Query of the collection's partition.
 */
export class DynamoUnknownClusters implements UnknownClusterStore {
  constructor(
    readonly collection: string,
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    /** The collection incarnation's uid, or null when it does not exist. */
    private readonly uid: () => Promise<string | null>,
  ) {}

  private async requireUid(): Promise<string> {
    const uid = await this.uid();
    if (!uid) throw new NotFoundError(`collection ${this.collection} does not exist`);
    return uid;
  }

  private item(uid: string, cluster: UnknownCluster, version: number): ClusterItem {
    const { descriptors, body } = encodeCluster(cluster);
    return { pk: unknownsPk(uid), sk: cluster.id, version, descriptors, body };
  }

  async create(cluster: UnknownCluster): Promise<UnknownCluster> {
    const uid = await this.requireUid();
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: this.item(uid, cluster, 1), ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      if (awsErrorCode(err) === 'ConditionalCheckFailedException') throw new AlreadyExistsError(`unknown cluster ${cluster.id} already exists`, { cause: err });
      throw classifyAwsError(err, `create unknown cluster ${cluster.id}`);
    }
    return { ...cluster, version: 1 };
  }

  async get(id: string): Promise<UnknownCluster | null> {
    const uid = await this.uid();
    if (!uid) return null;
    const out = await awsCall(`get unknown cluster ${id}`, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: unknownsPk(uid), sk: id }, ConsistentRead: true })),
    );
    return out.Item ? toCluster(out.Item as ClusterItem) : null;
  }

  async save(cluster: UnknownCluster, expectedVersion: number): Promise<UnknownCluster> {
    const uid = await this.requireUid();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: this.item(uid, cluster, expectedVersion + 1),
          ConditionExpression: 'attribute_exists(pk) AND version = :v',
          ExpressionAttributeValues: { ':v': expectedVersion },
        }),
      );
    } catch (err) {
      if (awsErrorCode(err) !== 'ConditionalCheckFailedException') throw classifyAwsError(err, `save unknown cluster ${cluster.id}`);
      if (!(await this.get(cluster.id))) throw new NotFoundError(`unknown cluster ${cluster.id} does not exist`, { cause: err });
      throw new VersionConflictError(`unknown cluster ${cluster.id} moved past version ${expectedVersion}`, { cause: err });
    }
    return { ...cluster, version: expectedVersion + 1 };
  }

  async delete(id: string): Promise<boolean> {
    const uid = await this.uid();
    if (!uid) return false;
    const out = await awsCall(`delete unknown cluster ${id}`, () =>
      this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: unknownsPk(uid), sk: id }, ReturnValues: 'ALL_OLD' })),
    );
    return out.Attributes !== undefined;
  }

  async list(): Promise<UnknownCluster[]> {
    const uid = await this.uid();
    if (!uid) return [];
    const items = (await queryAll(this.doc, this.table, unknownsPk(uid), { what: `list the unknown clusters of ${this.collection}` })) as ClusterItem[];
    return items.map(toCluster).sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
  }
}

function toCluster(item: ClusterItem): UnknownCluster {
  return decodeCluster({ descriptors: item.descriptors, body: item.body }, item.version);
}
