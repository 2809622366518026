import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueUrlCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyAwsError } from '../../../src/store/aws/errors.js';
import { DynamoJobStore } from '../../../src/store/aws/dynamo-job-store.js';
import { S3BlobStore } from '../../../src/store/aws/s3-blob-store.js';
import { SqsJobQueue } from '../../../src/store/aws/sqs-job-queue.js';
import { NotFoundError, StorePermanentError, StoreUnavailableError, VersionConflictError } from '../../../src/store/errors.js';
import { TimeoutError } from '../../../src/errors.js';
import { aJob } from '../../helpers/builders.js';

const creds = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

function serviceError(name: string, status: number, extra: Record<string, unknown> = {}) {
  return Object.assign(new DynamoDBServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name}!` }), extra);
}

describe('classifyAwsError', () => {
  const cases: Array<[string, unknown, new (...a: never[]) => Error]> = [
    ['ThrottlingException', serviceError('ThrottlingException', 400), StoreUnavailableError],
    ['ProvisionedThroughputExceededException', serviceError('ProvisionedThroughputExceededException', 400), StoreUnavailableError],
    ['RequestLimitExceeded (EC2)', serviceError('RequestLimitExceeded', 503), StoreUnavailableError],
    ['SlowDown (S3)', serviceError('SlowDown', 503), StoreUnavailableError],
    ['a bare 500', serviceError('InternalServerError', 500), StoreUnavailableError],
    ['an unnamed 503', serviceError('UnknownError', 503), StoreUnavailableError],
    ['ECONNRESET', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), StoreUnavailableError],
    ['a socket timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), StoreUnavailableError],
    ['ConditionalCheckFailedException', serviceError('ConditionalCheckFailedException', 400), VersionConflictError],
    ['NoSuchKey', serviceError('NoSuchKey', 404), NotFoundError],
    ['HEAD 404 NotFound', serviceError('NotFound', 404), NotFoundError],
    ['ResourceNotFoundException', serviceError('ResourceNotFoundException', 400), NotFoundError],
    ['QueueDoesNotExist', serviceError('QueueDoesNotExist', 400, { Code: 'AWS.SimpleQueueService.NonExistentQueue' }), NotFoundError],
    ['query-protocol NonExistentQueue', serviceError('UnknownError', 400, { Code: 'AWS.SimpleQueueService.NonExistentQueue' }), NotFoundError],
    ['InvalidInstanceID.NotFound', serviceError('InvalidInstanceID.NotFound', 400), NotFoundError],
    ['AccessDenied', serviceError('AccessDenied', 403), StorePermanentError],
    ['AccessDeniedException', serviceError('AccessDeniedException', 400), StorePermanentError],
    ['ValidationException', serviceError('ValidationException', 400), StorePermanentError],
    ['UnauthorizedOperation (EC2)', serviceError('UnauthorizedOperation', 403), StorePermanentError],
  ];
  for (const [label, err, type] of cases) {
    it(`${label} -> ${type.name}`, () => {
      const out = classifyAwsError(err, 'op');
      expect(out).toBeInstanceOf(type);
      expect(out.cause).toBe(err);
      expect(out.message).toMatch(/^op: /);
    });
  }

  it('marks throttling and unavailability retryable, denial and validation not', () => {
    expect(classifyAwsError(serviceError('ThrottlingException', 400), 'x').retryable).toBe(true);
    expect(classifyAwsError(serviceError('AccessDenied', 403), 'x').retryable).toBe(false);
    expect(classifyAwsError(serviceError('ValidationException', 400), 'x').retryable).toBe(false);
  });

  it('passes project errors through unchanged', () => {
    const e = new TimeoutError('late');
    expect(classifyAwsError(e, 'x')).toBe(e);
  });

  it('keeps the AWS code and request id for operators', () => {
    const err = serviceError('SlowDown', 503);
    (err.$metadata as { requestId?: string }).requestId = 'req-1';
    expect(classifyAwsError(err, 'x').details).toMatchObject({ awsCode: 'SlowDown', httpStatus: 503, requestId: 'req-1' });
  });
});

describe('adapters translate at their call sites', () => {
  const s3 = new S3Client(creds);
  const s3Mock = mockClient(s3);
  const sqs = new SQSClient(creds);
  const sqsMock = mockClient(sqs);
  const dynamo = new DynamoDBClient(creds);
  const doc = DynamoDBDocumentClient.from(dynamo);
  const docMock = mockClient(doc);

  beforeEach(() => {
    s3Mock.reset();
    sqsMock.reset();
    docMock.reset();
  });
  afterAll(() => {
    s3Mock.restore();
    sqsMock.restore();
    docMock.restore();
  });

  it('S3: NoSuchKey -> NotFoundError, SlowDown -> StoreUnavailableError, AccessDenied -> StorePermanentError', async () => {
    const blobs = new S3BlobStore({ s3, bucket: 'b' });
    s3Mock.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'gone' }));
    await expect(blobs.get('jobs/1/input')).rejects.toBeInstanceOf(NotFoundError);
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'slow' }));
    await expect(blobs.put('jobs/1/input', Buffer.from('x'))).rejects.toBeInstanceOf(StoreUnavailableError);
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'no' }));
    await expect(blobs.put('jobs/1/input', Buffer.from('x'))).rejects.toBeInstanceOf(StorePermanentError);
  });

  it('S3: put sends the length and AES256 by default, aws:kms with a key when configured', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await new S3BlobStore({ s3, bucket: 'b' }).put('a/b', Buffer.from('hello'), { contentType: 'image/png' });
    await new S3BlobStore({ s3, bucket: 'b', kmsKeyId: 'arn:aws:kms:us-east-1:1:key/k' }).put('a/b', Buffer.from('hello'));
    const [plain, kms] = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(plain).toMatchObject({ Bucket: 'b', Key: 'a/b', ContentLength: 5, ContentType: 'image/png', ServerSideEncryption: 'AES256' });
    expect(kms).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'arn:aws:kms:us-east-1:1:key/k' });
  });

  it('SQS: a stale receipt on extend -> NotFoundError; on delete it is ignored; a missing queue -> NotFoundError', async () => {
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/q' });
    const queue = new SqsJobQueue({ sqs, queueName: 'q', deadLetterQueueName: 'q-dlq' });
    const stale = new SQSServiceException({ name: 'InvalidParameterValue', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Value ... for parameter ReceiptHandle is invalid' });
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(stale);
    await expect(queue.extend('old', 10)).rejects.toBeInstanceOf(NotFoundError);
    sqsMock.on(DeleteMessageCommand).rejects(new SQSServiceException({ name: 'ReceiptHandleIsInvalid', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'x' }));
    await expect(queue.delete('old')).resolves.toBeUndefined();
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(new SQSServiceException({ name: 'RequestThrottled', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'x' }));
    await expect(queue.extend('current', 10)).rejects.toBeInstanceOf(StoreUnavailableError);

    sqsMock.on(GetQueueUrlCommand).rejects(new SQSServiceException({ name: 'QueueDoesNotExist', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'x' }));
    const missing = new SqsJobQueue({ sqs, queueName: 'nope', deadLetterQueueName: 'nope-dlq' });
    await expect(missing.send({ jobId: 'j' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('DynamoDB: a lost save is a VersionConflictError while the item exists, NotFoundError once it is gone', async () => {
    const blobs = new S3BlobStore({ s3, bucket: 'b' });
    const jobs = new DynamoJobStore({ doc, table: 't-jobs', stateIndex: 'state-updatedAt', blobs });
    const job = aJob();
    const ccf = (item?: unknown) =>
      Object.assign(new DynamoDBServiceException({ name: 'ConditionalCheckFailedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'ccf' }), item ? { Item: item } : {});
    // Real DynamoDB returns the current item with ReturnValuesOnConditionCheckFailure.
    docMock.on(PutCommand).rejects(ccf({ id: { S: job.id } }));
    await expect(jobs.save(job, 3)).rejects.toBeInstanceOf(VersionConflictError);
    expect(docMock.commandCalls(GetCommand)).toHaveLength(0);
    // Without it (dynalite), a consistent read decides.
    docMock.on(PutCommand).rejects(ccf());
    docMock.on(GetCommand).resolves({ Item: { id: job.id } });
    await expect(jobs.save(job, 3)).rejects.toBeInstanceOf(VersionConflictError);
    docMock.on(GetCommand).resolves({});
    await expect(jobs.save(job, 3)).rejects.toBeInstanceOf(NotFoundError);
    docMock.on(PutCommand).rejects(serviceError('ProvisionedThroughputExceededException', 400));
    await expect(jobs.save(job, 3)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
