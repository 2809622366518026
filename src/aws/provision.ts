/**
 * Create or check every AWS resource facefleet needs for one prefix. Idempotent: each resource
 * is described first and only created or corrected when it differs, so a second run reports
 * every resource `unchanged`. With `dryRun` nothing is written and changes come back `planned`.
 */
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketEncryptionCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DescribeTableCommand, UpdateTableCommand, type CreateTableCommandInput, type TableDescription } from '@aws-sdk/client-dynamodb';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import type { Logger } from '../log.js';
import { awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { createAwsClients, type AwsClients } from './clients.js';
import { resourceNames, TAG_PREFIX, TAG_ROLE, WORKER_ROLE, type ResourceNames } from './names.js';
import { deadLetterQueueAttributes, queueAttributes, tableDefinitions } from './resources.js';
import { workerUserData } from './user-data.js';

export type ProvisionAction = 'created' | 'unchanged' | 'updated' | 'planned';

export interface ProvisionedResource {
  kind: 's3-bucket' | 'sqs-queue' | 'dynamodb-table' | 'launch-template';
  name: string;
  action: ProvisionAction;
  /** What was (or would be) created or changed. */
  detail?: string;
}

export interface ProvisionReport {
  prefix: string;
  region: string;
  dryRun: boolean;
  resources: ProvisionedResource[];
  /** True when anything was created or updated (or, in a dry run, would be). */
  changed: boolean;
}

export interface LaunchTemplateOptions {
  /** AMI id, or an SSM parameter as `resolve:ssm:NAME`. Default: latest Amazon Linux 2023 x86_64. */
  imageId?: string;
  /** Default `t3.medium` (2 vCPU, 4 GiB: the model and tfjs want the memory). */
  instanceType?: string;
  /** Name of the worker role's instance profile (see `iamPolicies().worker`). */
  instanceProfileName?: string;
  securityGroupIds?: string[];
  /** What the user data installs with npm (see `workerUserData`). Default `facefleet`. */
  packageSpec?: string;
  /** Extra worker environment (e.g. FACEFLEET_VISIBILITY). */
  env?: Record<string, string>;
}

export interface ProvisionOptions {
  prefix: string;
  region: string;
  dryRun?: boolean;
  log: Logger;
  /** Clients to use (tests, emulators); default: built from the SDK chain for `region`. */
  clients?: AwsClients;
  /** Queue visibility timeout, seconds. Default 30 (config `queue.visibilitySeconds`). */
  visibilitySeconds?: number;
  /** Receives before SQS moves a message to the DLQ. Default 3 (config `queue.maxReceiveCount`). */
  maxReceiveCount?: number;
  /** S3 default encryption: SSE-KMS with this key; default SSE-S3 (AES256). */
  kmsKeyId?: string;
  /** The worker launch template; `false` skips it (emulators have no EC2). */
  launchTemplate?: LaunchTemplateOptions | false;
  /** How long to wait for a new table to become ACTIVE, ms. Default 120 000. */
  tableWaitMs?: number;
}

export const DEFAULT_WORKER_AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/** Create or check every resource for `prefix`; see the module comment. */
export async function provision(options: ProvisionOptions): Promise<ProvisionReport> {
  const names = resourceNames(options.prefix);
  const clients = options.clients ?? createAwsClients({ region: options.region });
  const ctx = { ...options, dryRun: options.dryRun ?? false, names, clients };
  try {
    const resources: ProvisionedResource[] = [];
    const add = (r: ProvisionedResource) => {
      options.log.info({ resource: r.name, kind: r.kind, action: r.action, detail: r.detail }, `${r.kind} ${r.name}: ${r.action}`);
      resources.push(r);
    };
    add(await ensureBucket(ctx));
    const dlq = await ensureQueue(ctx, names.deadLetterQueue, () => Promise.resolve(deadLetterQueueAttributes()));
    add(dlq.resource);
    const main = await ensureQueue(ctx, names.queue, async () =>
      queueAttributes({
        visibilitySeconds: options.visibilitySeconds ?? 30,
        maxReceiveCount: options.maxReceiveCount ?? 3,
        // In a dry run a missing DLQ has no ARN yet; show the one it will get.
        deadLetterArn: dlq.arn ?? `arn:aws:sqs:${options.region}:<account>:${names.deadLetterQueue}`,
      }),
    );
    add(main.resource);
    for (const table of tableDefinitions(names)) add(await ensureTable(ctx, table));
    if (options.launchTemplate !== false) add(await ensureLaunchTemplate(ctx, options.launchTemplate ?? {}));
    return { prefix: options.prefix, region: options.region, dryRun: ctx.dryRun, resources, changed: resources.some((r) => r.action !== 'unchanged') };
  } finally {
    if (!options.clients) clients.destroy();
  }
}

type Ctx = ProvisionOptions & { dryRun: boolean; names: ResourceNames; clients: AwsClients };

async function ensureBucket(ctx: Ctx): Promise<ProvisionedResource> {
  const { s3 } = ctx.clients;
  const Bucket = ctx.names.bucket;
  const base = { kind: 's3-bucket' as const, name: Bucket };
  const exists = await s3.send(new HeadBucketCommand({ Bucket })).then(
    () => true,
    (err) => {
      if (awsErrorCode(err) === 'NotFound' || awsErrorCode(err) === 'NoSuchBucket') return false;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 403: someone else's bucket; 301: a bucket of that name lives in another region.
      if (status === 403 || status === 301) {
        throw classifyAwsError(err, `bucket ${Bucket} exists but belongs to another account (bucket names are global; choose another prefix)`);
      }
      throw classifyAwsError(err, `head bucket ${Bucket}`);
    },
  );
  const encryption = ctx.kmsKeyId
    ? { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: ctx.kmsKeyId }
    : { SSEAlgorithm: 'AES256' as const };
  const settings = async () => {
    await call(`block public access on ${Bucket}`, () =>
      s3.send(
        new PutPublicAccessBlockCommand({
          Bucket,
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
        }),
      ),
    );
    await call(`encrypt ${Bucket}`, () =>
      s3.send(
        new PutBucketEncryptionCommand({
          Bucket,
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: encryption, BucketKeyEnabled: !!ctx.kmsKeyId }] },
        }),
      ),
    );
  };
  if (!exists) {
    if (ctx.dryRun) return { ...base, action: 'planned', detail: 'create, block public access, default encryption' };
    await call(`create bucket ${Bucket}`, () =>
      s3.send(
        new CreateBucketCommand({
          Bucket,
          // us-east-1 is the one region that refuses an explicit location constraint.
          ...(ctx.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: ctx.region as BucketLocationConstraint } } : {}),
        }),
      ),
    );
    await settings();
    return { ...base, action: 'created' };
  }
  const drift: string[] = [];
  const pab = await s3.send(new GetPublicAccessBlockCommand({ Bucket })).then(
    (o) => o.PublicAccessBlockConfiguration,
    (err) => {
      if (awsErrorCode(err) === 'NoSuchPublicAccessBlockConfiguration') return null;
      throw classifyAwsError(err, `get public access block of ${Bucket}`);
    },
  );
  // An emulator that accepts but does not keep bucket settings answers with an empty object:
  // nothing to compare, so leave it as it is.
  const pabKnown = pab && Object.keys(pab).length > 0;
  if (pab === null || (pabKnown && !(pab.BlockPublicAcls && pab.IgnorePublicAcls && pab.BlockPublicPolicy && pab.RestrictPublicBuckets))) drift.push('public access block');
  const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket })).then(
    (o) => o.ServerSideEncryptionConfiguration,
    (err) => {
      if (awsErrorCode(err) === 'ServerSideEncryptionConfigurationNotFoundError') return null;
      throw classifyAwsError(err, `get encryption of ${Bucket}`);
    },
  );
  const rule = enc?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
  if (enc === null || (enc?.Rules && (rule?.SSEAlgorithm !== encryption.SSEAlgorithm || (ctx.kmsKeyId && rule?.KMSMasterKeyID !== ctx.kmsKeyId)))) {
    drift.push('default encryption');
  }
  if (drift.length === 0) return { ...base, action: 'unchanged' };
  if (ctx.dryRun) return { ...base, action: 'planned', detail: `set ${drift.join(', ')}` };
  await settings();
  return { ...base, action: 'updated', detail: `set ${drift.join(', ')}` };
}

async function ensureQueue(
  ctx: Ctx,
  QueueName: string,
  desired: () => Promise<Record<string, string>>,
): Promise<{ resource: ProvisionedResource; arn?: string }> {
  const { sqs } = ctx.clients;
  const base = { kind: 'sqs-queue' as const, name: QueueName };
  const url = await sqs.send(new GetQueueUrlCommand({ QueueName })).then(
    (o) => o.QueueUrl,
    (err) => {
      if (awsErrorCode(err) === 'QueueDoesNotExist' || awsErrorCode(err) === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
      throw classifyAwsError(err, `look up queue ${QueueName}`);
    },
  );
  const want = await desired();
  if (!url) {
    if (ctx.dryRun) return { resource: { ...base, action: 'planned', detail: describeAttributes(want) } };
    const created = await call(`create queue ${QueueName}`, () => sqs.send(new CreateQueueCommand({ QueueName, Attributes: want })));
    const arn = await queueArn(ctx, created.QueueUrl!);
    return { resource: { ...base, action: 'created', detail: describeAttributes(want) }, arn };
  }
  const got = ((await call(`get attributes of ${QueueName}`, () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })))).Attributes ?? {}) as Record<string, string>;
  const changes: Record<string, string> = {};
  for (const [k, v] of Object.entries(want)) {
    // An attribute the endpoint does not report (an emulator without SSE) cannot be compared.
    if (got[k] === undefined && k === 'SqsManagedSseEnabled') continue;
    const same = k === 'RedrivePolicy' ? sameRedrive(got[k], v) : got[k] === v;
    if (!same) changes[k] = v;
  }
  const arn = got.QueueArn;
  if (Object.keys(changes).length === 0) return { resource: { ...base, action: 'unchanged' }, arn };
  const detail = `set ${describeAttributes(changes)}`;
  if (ctx.dryRun) return { resource: { ...base, action: 'planned', detail }, arn };
  await call(`set attributes of ${QueueName}`, () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: changes })));
  return { resource: { ...base, action: 'updated', detail }, arn };
}

async function queueArn(ctx: Ctx, url: string): Promise<string | undefined> {
  const out = await call('get queue arn', () => ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })));
  return out.Attributes?.QueueArn;
}

function sameRedrive(got: string | undefined, want: string): boolean {
  if (!got) return false;
  try {
    const a = JSON.parse(got) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
    const b = JSON.parse(want) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
    return a.deadLetterTargetArn === b.deadLetterTargetArn && Number(a.maxReceiveCount) === Number(b.maxReceiveCount);
  } catch {
    return false;
  }
}

function describeAttributes(attrs: Record<string, string>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

async function ensureTable(ctx: Ctx, def: CreateTableCommandInput): Promise<ProvisionedResource> {
  const { dynamodb } = ctx.clients;
  const name = def.TableName!;
  const base = { kind: 'dynamodb-table' as const, name };
  const describe = () =>
    dynamodb.send(new DescribeTableCommand({ TableName: name })).then(
      (o) => o.Table,
      (err) => {
        if (awsErrorCode(err) === 'ResourceNotFoundException') return undefined;
        throw classifyAwsError(err, `describe table ${name}`);
      },
    );
  const table = await describe();
  if (!table) {
    if (ctx.dryRun) return { ...base, action: 'planned', detail: 'create, on-demand' + (def.GlobalSecondaryIndexes ? `, GSI ${def.GlobalSecondaryIndexes.map((g) => g.IndexName).join(', ')}` : '') };
    await call(`create table ${name}`, () => dynamodb.send(new CreateTableCommand(def))).catch((err) => {
      // Another provision run got there first.
      if (awsErrorCode((err as { cause?: unknown }).cause) !== 'ResourceInUseException') throw err;
    });
    await waitActive(ctx, name, describe);
    return { ...base, action: 'created' };
  }
  const changes: string[] = [];
  const provisioned = table.BillingModeSummary?.BillingMode === 'PROVISIONED' || (!table.BillingModeSummary && (table.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0);
  if (provisioned) changes.push('billing PAY_PER_REQUEST');
  const missing = (def.GlobalSecondaryIndexes ?? []).filter((g) => !(table.GlobalSecondaryIndexes ?? []).some((t) => t.IndexName === g.IndexName));
  for (const g of missing) changes.push(`add GSI ${g.IndexName}`);
  if (changes.length === 0) return { ...base, action: 'unchanged' };
  if (ctx.dryRun) return { ...base, action: 'planned', detail: changes.join(', ') };
  if (provisioned) {
    await call(`update table ${name}`, () => dynamodb.send(new UpdateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST' })));
    await waitActive(ctx, name, describe);
  }
  // DynamoDB takes one GSI change per UpdateTable call.
  for (const g of missing) {
    await call(`add index ${g.IndexName} to ${name}`, () =>
      dynamodb.send(
        new UpdateTableCommand({
          TableName: name,
          AttributeDefinitions: def.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [{ Create: { IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection } }],
        }),
      ),
    );
    await waitActive(ctx, name, describe);
  }
  return { ...base, action: 'updated', detail: changes.join(', ') };
}

async function waitActive(ctx: Ctx, name: string, describe: () => Promise<TableDescription | undefined>): Promise<void> {
  const deadline = Date.now() + (ctx.tableWaitMs ?? 120_000);
  for (;;) {
    const t = await describe();
    if (t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE' || g.IndexStatus === undefined)) return;
    if (Date.now() > deadline) throw classifyAwsError(new Error(`table ${name} is not ACTIVE yet`), `wait for table ${name}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The launch template data provision wants; exported for tests and `--dry-run` output. */
export function launchTemplateData(ctx: Pick<ProvisionOptions, 'prefix' | 'region' | 'visibilitySeconds' | 'maxReceiveCount'>, lt: LaunchTemplateOptions): RequestLaunchTemplateData {
  const env: Record<string, string> = {
    ...(ctx.visibilitySeconds !== undefined ? { FACEFLEET_VISIBILITY: String(ctx.visibilitySeconds) } : {}),
    ...(ctx.maxReceiveCount !== undefined ? { FACEFLEET_MAX_RECEIVES: String(ctx.maxReceiveCount) } : {}),
    ...lt.env,
  };
  const userData = workerUserData({ prefix: ctx.prefix, region: ctx.region, env, ...(lt.packageSpec ? { packageSpec: lt.packageSpec } : {}) });
  return {
    ImageId: lt.imageId ?? DEFAULT_WORKER_AMI,
    InstanceType: (lt.instanceType ?? 't3.medium') as RequestLaunchTemplateData['InstanceType'],
    UserData: Buffer.from(userData, 'utf8').toString('base64'),
    ...(lt.instanceProfileName ? { IamInstanceProfile: { Name: lt.instanceProfileName } } : {}),
    ...(lt.securityGroupIds?.length ? { SecurityGroupIds: lt.securityGroupIds } : {}),
    // IMDSv2 only: the worker's credentials come from the instance role.
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
    TagSpecifications: [
      {
        ResourceType: 'instance',
        Tags: [
          { Key: TAG_PREFIX, Value: ctx.prefix },
          { Key: TAG_ROLE, Value: WORKER_ROLE },
          { Key: 'Name', Value: `${ctx.prefix}-worker` },
        ],
      },
    ],
  };
}

async function ensureLaunchTemplate(ctx: Ctx, lt: LaunchTemplateOptions): Promise<ProvisionedResource> {
  const { ec2 } = ctx.clients;
  const name = ctx.names.launchTemplate;
  const base = { kind: 'launch-template' as const, name };
  const want = launchTemplateData(ctx, lt);
  const latest = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: name, Versions: ['$Latest'] })).then(
    (o) => o.LaunchTemplateVersions?.[0],
    (err) => {
      const code = awsErrorCode(err);
      if (code === 'InvalidLaunchTemplateName.NotFoundException' || code === 'InvalidLaunchTemplateId.NotFound') return undefined;
      throw classifyAwsError(err, `describe launch template ${name}`);
    },
  );
  if (!latest) {
    if (ctx.dryRun) return { ...base, action: 'planned', detail: `create (${want.InstanceType}, ${want.ImageId})` };
    await call(`create launch template ${name}`, () =>
      ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: name,
          LaunchTemplateData: want,
          VersionDescription: 'facefleet provision',
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: TAG_PREFIX, Value: ctx.prefix }] }],
        }),
      ),
    );
    return { ...base, action: 'created' };
  }
  const diff = differences(want, latest.LaunchTemplateData ?? {});
  if (diff.length === 0) return { ...base, action: 'unchanged' };
  const detail = `new version: ${diff.join(', ')}`;
  if (ctx.dryRun) return { ...base, action: 'planned', detail };
  const created = await call(`update launch template ${name}`, () =>
    ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: name, LaunchTemplateData: want, VersionDescription: 'facefleet provision' })),
  );
  const version = created.LaunchTemplateVersion?.VersionNumber;
  if (version !== undefined) {
    await call(`set default version of ${name}`, () => ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateName: name, DefaultVersion: String(version) })));
  }
  return { ...base, action: 'updated', detail };
}

/** Top-level fields of `want` that `got` does not match (only the keys `want` sets count). */
function differences(want: object, got: object): string[] {
  const covers = (w: unknown, g: unknown): boolean => {
    if (Array.isArray(w)) {
      if (!Array.isArray(g) || w.length !== g.length) return false;
      // Tag lists may come back in another order.
      const byKey = (a: unknown[]) => (a.every((x) => x && typeof x === 'object' && 'Key' in x) ? [...a].sort((x, y) => String((x as { Key: string }).Key).localeCompare(String((y as { Key: string }).Key))) : a);
      const [ws, gs] = [byKey(w), byKey(g)];
      return ws.every((x, i) => covers(x, gs[i]));
    }
    if (w && typeof w === 'object') return !!g && typeof g === 'object' && Object.entries(w).every(([k, v]) => covers(v, (g as Record<string, unknown>)[k]));
    return w === g;
  };
  return Object.entries(want)
    .filter(([k, v]) => !covers(v, (got as Record<string, unknown>)[k]))
    .map(([k]) => k);
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyAwsError(err, what);
  }
}
