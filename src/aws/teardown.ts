/**
 * Delete every AWS resource `provision` creates for a prefix, data included: worker instances
 * (anything tagged `facefleet:prefix=P`, pool instances too), the launch template, both
 * queues, every table, and the bucket with all its objects. Absent resources are fine, so a
 * second run reports everything `absent`.
 */
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteQueueCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteLaunchTemplateCommand, DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { createAwsClients, type AwsClients } from './clients.js';
import { resourceNames, TAG_PREFIX } from './names.js';
import { tableDefinitions } from './resources.js';

export interface TeardownOptions {
  prefix: string;
  /** Default: the SDK's chain (AWS_REGION, shared config). */
  region?: string;
  /** Must be true: teardown deletes data. The CLI asks before setting it. */
  yes: boolean;
  /** Default: silent. */
  log?: Logger;
  clients?: AwsClients;
  /** Skip EC2 (emulators have none). Default true: include it. */
  ec2?: boolean;
}

export interface TeardownReport {
  prefix: string;
  region: string;
  resources: Array<{ kind: string; name: string; action: 'deleted' | 'absent'; detail?: string }>;
}

const GONE = new Set([
  'NoSuchBucket',
  'NotFound',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'ResourceNotFoundException',
  'InvalidLaunchTemplateName.NotFoundException',
  'InvalidLaunchTemplateId.NotFound',
]);

export async function teardown(options: TeardownOptions): Promise<TeardownReport> {
  if (options.yes !== true) throw new ConfigError('teardown deletes every resource and its data: pass yes: true (CLI --yes) to confirm');
  const names = resourceNames(options.prefix);
  const clients = options.clients ?? createAwsClients(options.region ? { region: options.region } : {});
  const log = options.log ?? silentLogger();
  const report: TeardownReport = { prefix: options.prefix, region: options.region ?? '', resources: [] };
  const record = (kind: string, name: string, action: 'deleted' | 'absent', detail?: string) => {
    log.info({ kind, resource: name, action }, `${kind} ${name}: ${action}`);
    report.resources.push({ kind, name, action, ...(detail ? { detail } : {}) });
  };
  /** Run `fn`; true when it deleted something, false when the resource was already gone. */
  const gone = async (what: string, fn: () => Promise<unknown>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      if (GONE.has(awsErrorCode(err) ?? '')) return false;
      throw classifyAwsError(err, what);
    }
  };
  try {
    report.region ||= await clients.s3.config.region();
    if (options.ec2 !== false) {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await clients.ec2.send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: `tag:${TAG_PREFIX}`, Values: [options.prefix] },
              { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
            ],
            ...(token ? { NextToken: token } : {}),
          }),
        );
        for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
        token = page.NextToken;
      } while (token);
      if (ids.length > 0) {
        await gone('terminate workers', () => clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids })));
        record('ec2-instances', ids.join(','), 'deleted', `${ids.length} terminated`);
      } else record('ec2-instances', `${TAG_PREFIX}=${options.prefix}`, 'absent');
      const lt = await gone(`delete launch template ${names.launchTemplate}`, () =>
        clients.ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: names.launchTemplate })),
      );
      record('launch-template', names.launchTemplate, lt ? 'deleted' : 'absent');
    }
    for (const q of [names.queue, names.deadLetterQueue]) {
      const deleted = await gone(`delete queue ${q}`, async () => {
        const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: q }));
        await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }));
      });
      record('sqs-queue', q, deleted ? 'deleted' : 'absent');
    }
    for (const t of tableDefinitions(names)) {
      const deleted = await gone(`delete table ${t.TableName}`, () => clients.dynamodb.send(new DeleteTableCommand({ TableName: t.TableName })));
      record('dynamodb-table', t.TableName!, deleted ? 'deleted' : 'absent');
    }
    let objects = 0;
    const bucket = await gone(`delete bucket ${names.bucket}`, async () => {
      let token: string | undefined;
      do {
        const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: names.bucket, ...(token ? { ContinuationToken: token } : {}) }));
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
        if (keys.length > 0) {
          await clients.s3.send(new DeleteObjectsCommand({ Bucket: names.bucket, Delete: { Objects: keys, Quiet: true } }));
          objects += keys.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      await clients.s3.send(new DeleteBucketCommand({ Bucket: names.bucket }));
    });
    record('s3-bucket', names.bucket, bucket ? 'deleted' : 'absent', bucket ? `${objects} objects` : undefined);
    return report;
  } finally {
    if (!options.clients) clients.destroy();
  }
}
