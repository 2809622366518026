/**
 * The shapes shared by provision's steps: options, the report, and the context every step gets.
 */
import type { Logger } from '../log.js';
import type { AwsClients } from './clients.js';
import type { ResourceNames } from './names.js';

export type ProvisionAction = 'created' | 'unchanged' | 'updated' | 'planned';

export interface ProvisionedResource {
  kind: 's3-bucket' | 's3-lifecycle' | 's3-object' | 'sqs-queue' | 'dynamodb-table' | 'launch-template';
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
  /** What the workers install, in words (absent when the launch template is skipped). */
  workerPackage?: string;
}

/**
 * Where the workers' facefleet comes from. `pack` (the default): `npm pack` of the checkout in
 * `dir` (default: the one provision runs from). `tarball`: a file the operator built. Both are
 * uploaded to the bucket with their SHA-256. `spec`: an npm spec the operator names, installed as given.
 */
export type WorkerPackage = { kind: 'pack'; dir?: string } | { kind: 'tarball'; path: string } | { kind: 'spec'; spec: string };

export interface LaunchTemplateOptions {
  /** AMI id, or an SSM parameter as `resolve:ssm:NAME`. Default: latest Amazon Linux 2023 x86_64. */
  imageId?: string;
  /** Default `t3.medium` (2 vCPU, 4 GiB: the model and tfjs want the memory). */
  instanceType?: string;
  /** Name of the worker role's instance profile (see `iamPolicies().worker`). */
  instanceProfileName?: string;
  securityGroupIds?: string[];
  /** What the workers install (see {@link WorkerPackage}). Default: pack this checkout and upload it. */
  package?: WorkerPackage;
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
  /**
   * Input retention, seconds (config `web.inputRetentionSeconds`): the bucket's lifecycle rule
   * for finished inputs expires them after this many days, rounded up, at least 1. Default 24 h.
   */
  inputRetentionSeconds?: number;
  /** S3 default encryption: SSE-KMS with this key; default SSE-S3 (AES256). */
  kmsKeyId?: string;
  /** The worker launch template; `false` skips it (emulators have no EC2). */
  launchTemplate?: LaunchTemplateOptions | false;
  /** How long to wait for a new table to become ACTIVE, ms. Default 120 000. */
  tableWaitMs?: number;
}

/** What each step gets: the options, with the names and clients resolved. */
export type ProvisionContext = ProvisionOptions & { dryRun: boolean; names: ResourceNames; clients: AwsClients };
