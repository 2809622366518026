/**
 * Every AWS resource facefleet uses is named from one prefix, so several deployments (or test
 * suites) share an account without touching each other, and teardown finds all of them.
 */
import { ConfigError } from '../errors.js';

export interface ResourceNames {
  prefix: string;
  /** S3 bucket for uploaded images and oversized job records. Bucket names are global: pick a prefix nobody else uses. */
  bucket: string;
  queue: string;
  deadLetterQueue: string;
  jobsTable: string;
  /** The jobs table's GSI: partition `state`, sort `updatedAt`. */
  jobsStateIndex: string;
  galleryTable: string;
  keysTable: string;
  workersTable: string;
  launchTemplate: string;
  /** The workers' IAM role, and the instance profile of the same name. */
  workerRole: string;
  /** The `Name` tag of worker instances. */
  workerInstanceName: string;
}

/** Tag keys on EC2 instances and launch templates. */
export const TAG_PREFIX = 'facefleet:prefix';
export const TAG_ROLE = 'facefleet:role';
export const WORKER_ROLE = 'worker';

/**
 * Lowercase letters, digits and hyphens, 3..40 characters, starting with a letter: valid in an
 * S3 bucket name, an SQS queue name and a DynamoDB table name once suffixes are added.
 */
export function validatePrefix(prefix: string): string {
  if (!/^[a-z][a-z0-9-]{2,39}$/.test(prefix) || prefix.endsWith('-') || prefix.includes('--')) {
    throw new ConfigError(
      `prefix must be 3..40 lowercase letters, digits or single hyphens, starting with a letter; got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/** The workers' name (launch template, IAM role and instance profile, `Name` tag) for a prefix already checked. */
export function workerName(prefix: string): string {
  return `${prefix}-worker`;
}

/** The names of every resource for `prefix`. */
export function resourceNames(prefix: string): ResourceNames {
  validatePrefix(prefix);
  return {
    prefix,
    bucket: `${prefix}-blobs`,
    queue: `${prefix}-jobs`,
    deadLetterQueue: `${prefix}-jobs-dlq`,
    jobsTable: `${prefix}-jobs`,
    jobsStateIndex: 'state-updatedAt',
    galleryTable: `${prefix}-gallery`,
    keysTable: `${prefix}-keys`,
    workersTable: `${prefix}-workers`,
    launchTemplate: workerName(prefix),
    workerRole: workerName(prefix),
    workerInstanceName: workerName(prefix),
  };
}
