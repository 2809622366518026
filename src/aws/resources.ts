/**
 * The desired shape of every resource, shared by provision, teardown and the IAM documents.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { ResourceNames } from './names.js';

/** 14 days, SQS's maximum. The DLQ must keep messages at least as long as the source queue. */
export const MESSAGE_RETENTION_SECONDS = 1_209_600;

export function queueAttributes(options: { visibilitySeconds: number; maxReceiveCount: number; deadLetterArn: string }): Record<string, string> {
  return {
    VisibilityTimeout: String(options.visibilitySeconds),
    MessageRetentionPeriod: String(MESSAGE_RETENTION_SECONDS),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: options.deadLetterArn, maxReceiveCount: options.maxReceiveCount }),
    SqsManagedSseEnabled: 'true',
  };
}

export function deadLetterQueueAttributes(): Record<string, string> {
  return { MessageRetentionPeriod: String(MESSAGE_RETENTION_SECONDS), SqsManagedSseEnabled: 'true' };
}

/** Every table, on-demand (no cost at rest beyond storage), with the jobs table's state GSI. */
export function tableDefinitions(names: ResourceNames): CreateTableCommandInput[] {
  return [
    {
      TableName: names.jobsTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'state', AttributeType: 'S' },
        { AttributeName: 'updatedAt', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: names.jobsStateIndex,
          KeySchema: [
            { AttributeName: 'state', KeyType: 'HASH' },
            { AttributeName: 'updatedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    },
    {
      TableName: names.galleryTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    },
    {
      TableName: names.keysTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    },
    {
      TableName: names.workersTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'workerId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'workerId', KeyType: 'HASH' }],
    },
  ];
}
