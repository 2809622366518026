/**
 * Least-privilege IAM policy documents for the three roles: web, worker and controller. They
 * are derived from {@link ROLE_CALLS}: for each role, the AWS API calls its adapters make on
 * each resource (see the adapters in `src/store/aws`, EC2's fleet included), mapped
 * to IAM actions by {@link COMMAND_ACTIONS}. `test/aws/iam.test.ts` records the calls the
 * adapters really send and checks each is granted here.
 */
import { resourceNames, workerName, TAG_PREFIX, TAG_ROLE, WORKER_ROLE, type ResourceNames } from './names.js';

export type IamRole = 'web' | 'worker' | 'controller';

type ResourceKey = 'bucket' | 'objects' | 'queue' | 'deadLetterQueue' | 'jobsTable' | 'jobsIndex' | 'galleryTable' | 'keysTable' | 'workersTable';

/** SDK command name (without `Command`) -> IAM action. Batch calls need their single action. */
export const COMMAND_ACTIONS: Record<string, string> = {
  // S3
  HeadBucket: 's3:ListBucket',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  DeleteObject: 's3:DeleteObject',
  PutObjectTagging: 's3:PutObjectTagging',
  // SQS
  GetQueueUrl: 'sqs:GetQueueUrl',
  GetQueueAttributes: 'sqs:GetQueueAttributes',
  SendMessage: 'sqs:SendMessage',
  ReceiveMessage: 'sqs:ReceiveMessage',
  DeleteMessage: 'sqs:DeleteMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibility: 'sqs:ChangeMessageVisibility',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
  StartMessageMoveTask: 'sqs:StartMessageMoveTask',
  // DynamoDB
  GetItem: 'dynamodb:GetItem',
  PutItem: 'dynamodb:PutItem',
  UpdateItem: 'dynamodb:UpdateItem',
  DeleteItem: 'dynamodb:DeleteItem',
  Query: 'dynamodb:Query',
  Scan: 'dynamodb:Scan',
  BatchWriteItem: 'dynamodb:BatchWriteItem',
  // EC2
  DescribeInstances: 'ec2:DescribeInstances',
  RunInstances: 'ec2:RunInstances',
  StartInstances: 'ec2:StartInstances',
  StopInstances: 'ec2:StopInstances',
  TerminateInstances: 'ec2:TerminateInstances',
};

// PutObjectTagging: a job that ends done has its input tagged for the bucket's lifecycle rule.
const BLOBS = { bucket: ['HeadBucket'], objects: ['GetObject', 'HeadObject', 'PutObject', 'DeleteObject', 'PutObjectTagging'] } as const;
const JOB_RW = { jobsTable: ['GetItem', 'PutItem', 'DeleteItem'], jobsIndex: ['Query'] } as const;
const GALLERY_RW = { galleryTable: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan', 'BatchWriteItem'] } as const;
/** Every JobQueue method resolves both queue URLs first. */
const QUEUE_URLS = ['GetQueueUrl', 'GetQueueAttributes'];
const DLQ_SCAN = [...QUEUE_URLS, 'ReceiveMessage', 'DeleteMessage', 'DeleteMessageBatch', 'ChangeMessageVisibilityBatch'];

/**
 * What each role calls, per resource. The web tier takes uploads, serves jobs, the gallery,
 * API keys and the operator's dead-letter and replay endpoints. The worker receives jobs,
 * runs them and enrolls faces. The controller reads queue depth and workers, reconciles dead
 * letters, publishes its status blob and drives EC2.
 */
export const ROLE_CALLS: Record<IamRole, Partial<Record<ResourceKey, readonly string[]>>> = {
  web: {
    ...BLOBS,
    ...JOB_RW,
    ...GALLERY_RW,
    queue: [...QUEUE_URLS, 'SendMessage'],
    // StartMessageMoveTask (bulk redrive) reads the DLQ and sends to the queue on our behalf.
    deadLetterQueue: [...DLQ_SCAN, 'StartMessageMoveTask'],
    keysTable: ['GetItem', 'PutItem', 'UpdateItem', 'Scan'],
    workersTable: ['Scan'],
  },
  worker: {
    ...BLOBS,
    ...JOB_RW,
    ...GALLERY_RW,
    queue: [...QUEUE_URLS, 'SendMessage', 'ReceiveMessage', 'ChangeMessageVisibility', 'DeleteMessage'],
    deadLetterQueue: QUEUE_URLS,
    // The heartbeat is an update (it keeps the controller's retire request and returns it).
    workersTable: ['UpdateItem', 'DeleteItem'],
  },
  controller: {
    ...BLOBS,
    ...JOB_RW,
    queue: [...QUEUE_URLS, 'SendMessage'],
    deadLetterQueue: DLQ_SCAN,
    // UpdateItem: asking an EC2 worker to retire.
    workersTable: ['Scan', 'DeleteItem', 'UpdateItem'],
  },
};

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamPolicyDocument {
  Version: '2012-10-17';
  Statement: IamStatement[];
}

export interface IamOptions {
  prefix: string;
  region: string;
  /** Account id for ARNs; default `*` (any account: still scoped by name). */
  accountId?: string;
  /** SSE-KMS key ARN, when S3 objects use one. */
  kmsKeyArn?: string;
  /** The worker role's name, which the controller passes to EC2. Default `<prefix>-worker`. */
  workerRoleName?: string;
}

function arns(names: ResourceNames, region: string, account: string): Record<ResourceKey, string> {
  const table = (t: string) => `arn:aws:dynamodb:${region}:${account}:table/${t}`;
  return {
    bucket: `arn:aws:s3:::${names.bucket}`,
    objects: `arn:aws:s3:::${names.bucket}/*`,
    queue: `arn:aws:sqs:${region}:${account}:${names.queue}`,
    deadLetterQueue: `arn:aws:sqs:${region}:${account}:${names.deadLetterQueue}`,
    jobsTable: table(names.jobsTable),
    jobsIndex: `${table(names.jobsTable)}/index/${names.jobsStateIndex}`,
    galleryTable: table(names.galleryTable),
    keysTable: table(names.keysTable),
    workersTable: table(names.workersTable),
  };
}

function sid(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/** The policy document for each role. */
export function iamPolicies(options: IamOptions): Record<IamRole, IamPolicyDocument> {
  const names = resourceNames(options.prefix);
  const account = options.accountId ?? '*';
  const arn = arns(names, options.region, account);
  const build = (role: IamRole): IamPolicyDocument => {
    const statements: IamStatement[] = Object.entries(ROLE_CALLS[role]).map(([key, commands]) => ({
      Sid: sid(key),
      Effect: 'Allow' as const,
      Action: [...new Set((commands ?? []).map((c) => COMMAND_ACTIONS[c]!))].sort(),
      Resource: arn[key as ResourceKey],
    }));
    if (options.kmsKeyArn) {
      statements.push({ Sid: 'ObjectEncryptionKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: options.kmsKeyArn });
    }
    if (role === 'controller') statements.push(...controllerEc2(options, account));
    return { Version: '2012-10-17', Statement: statements };
  };
  return { web: build('web'), worker: build('worker'), controller: build('controller') };
}

function controllerEc2(options: IamOptions, account: string): IamStatement[] {
  const ec2 = (type: string, acct = account) => `arn:aws:ec2:${options.region}:${acct}:${type}`;
  return [
    // DescribeInstances supports no resource-level scoping; the fleet filters on tags itself.
    { Sid: 'DescribeWorkers', Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*' },
    {
      Sid: 'RunTaggedWorkers',
      Effect: 'Allow',
      Action: ['ec2:RunInstances'],
      Resource: [ec2('instance/*'), ec2('volume/*')],
      Condition: { StringEquals: { [`aws:RequestTag/${TAG_PREFIX}`]: options.prefix, [`aws:RequestTag/${TAG_ROLE}`]: WORKER_ROLE } },
    },
    {
      Sid: 'RunFromTheWorkerTemplate',
      Effect: 'Allow',
      Action: ['ec2:RunInstances'],
      Resource: [ec2('launch-template/*'), ec2('image/*', ''), ec2('subnet/*'), ec2('network-interface/*'), ec2('security-group/*'), ec2('key-pair/*')],
    },
    {
      Sid: 'TagWorkersAtLaunch',
      Effect: 'Allow',
      Action: ['ec2:CreateTags'],
      Resource: [ec2('instance/*'), ec2('volume/*')],
      Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
    },
    {
      Sid: 'StartStopOwnWorkers',
      Effect: 'Allow',
      Action: ['ec2:StartInstances', 'ec2:StopInstances', 'ec2:TerminateInstances'],
      Resource: ec2('instance/*'),
      Condition: { StringEquals: { [`aws:ResourceTag/${TAG_PREFIX}`]: options.prefix } },
    },
    {
      Sid: 'PassWorkerRole',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: `arn:aws:iam::${account}:role/${options.workerRoleName ?? workerName(options.prefix)}`,
      Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    },
    // The launch template's AMI is `resolve:ssm:` a public Amazon Linux parameter.
    {
      Sid: 'ResolveWorkerAmi',
      Effect: 'Allow',
      Action: ['ssm:GetParameters'],
      Resource: `arn:aws:ssm:${options.region}::parameter/aws/service/ami-amazon-linux-latest/*`,
    },
  ];
}

/** EC2 trust policy for the roles' instance profiles. */
export const EC2_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
} as const;
