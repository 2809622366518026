/**
 * AWS adapter behaviour beyond the port contracts: the SDK's own endpoint variables, the
 * wiring entry point, oversized job records, stale SQS receipts and the bulk redrive.
 */
import net from 'node:net';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createJobEffects } from '../../../src/jobs/effects.js';
import { createJobRunner } from '../../../src/jobs/runner.js';
import { createThenSendIntake } from '../../../src/store/intake.js';
import { createAwsClients } from '../../../src/aws/clients.js';
import { provision } from '../../../src/aws/provision.js';
import { teardown } from '../../../src/aws/teardown.js';
import { loadConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import { openAwsStores } from '../../../src/store/aws/index.js';
import { S3BlobStore } from '../../../src/store/aws/s3-blob-store.js';
import { SqsJobQueue } from '../../../src/store/aws/sqs-job-queue.js';
import { NotFoundError, StoreUnavailableError } from '../../../src/store/errors.js';
import { aJob, sleep } from '../../helpers/builders.js';
import { aResult, permanent, RecordingJobQueue } from '../../helpers/jobs.js';
import { testPrefix } from '../../helpers/emulators.js';
import { createBucket, createQueues, createTables, freshNames, jobStoreWithBlobs, useEmulators } from './harness.js';

const env = useEmulators();
const log = silentLogger();

/** Set env vars for the duration of `fn`, then put back what was there. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('openAwsStores', () => {
  it('reaches the emulators through the SDK endpoint variables alone (AWS_ENDPOINT_URL_*)', async () => {
    const prefix = testPrefix('envurl');
    await provision({ prefix, region: env.emulators.region, log, clients: env.clients, launchTemplate: false });
    await withEnv(
      {
        AWS_ENDPOINT_URL_S3: env.emulators.endpoints.s3,
        AWS_ENDPOINT_URL_SQS: env.emulators.endpoints.sqs,
        AWS_ENDPOINT_URL_DYNAMODB: env.emulators.endpoints.dynamodb,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      },
      async () => {
        const config = loadConfig({ backend: 'aws', prefix }, { AWS_REGION: env.emulators.region });
        const stores = await openAwsStores(config, log);
        try {
          await Promise.all([stores.blobs.ping(), stores.jobs.ping(), stores.queue.ping(), stores.gallery.ping()]);
          await stores.blobs.put('jobs/x/input', Buffer.from('via env'));
          expect((await stores.blobs.get('jobs/x/input')).toString()).toBe('via env');
          await stores.queue.send({ jobId: 'x' });
          const [m] = await stores.queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 5 });
          expect(m?.body).toEqual({ jobId: 'x' });
          await stores.registry.heartbeat({ workerId: 'w1', busy: false, at: new Date().toISOString(), jobsDone: 0 });
          expect((await stores.registry.list()).map((w) => w.workerId)).toEqual(['w1']);
        } finally {
          await stores.close();
          await stores.close();
        }
      },
    );
    await teardown({ prefix, region: env.emulators.region, yes: true, log, clients: env.clients, ec2: false });
  });

  it('fails ping with NotFoundError when nothing was provisioned for the prefix', async () => {
    const config = loadConfig({ backend: 'aws', prefix: testPrefix('none') }, { AWS_REGION: env.emulators.region });
    const stores = await openAwsStores(config, log, { clientOptions: env.emulators.clientOptions });
    try {
      await expect(stores.queue.ping()).rejects.toBeInstanceOf(NotFoundError);
      await expect(stores.jobs.ping()).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await stores.close();
    }
  });
});

describe('DynamoJobStore with records larger than an item may hold', () => {
  it('keeps the body in S3 behind a pointer, replaces it on save and removes it on delete', async () => {
    const { names, blobs, jobs, cleanup } = await jobStoreWithBlobs(env, 'bigjob');
    try {
      // ~450 KB of history: more than DynamoDB's 400 KB item limit.
      const history = Array.from({ length: 3000 }, (_, i) => ({ at: new Date(i).toISOString(), from: 'queued', to: 'processing', event: 'x'.repeat(100), attempt: i }));
      const job = aJob({ snapshot: { value: 'queued', context: { history } } });
      await jobs.create(job);
      const raw = await env.clients.dynamodb.send(new GetItemCommand({ TableName: names.jobsTable, Key: { id: { S: job.id } } }));
      expect(raw.Item?.body).toBeUndefined();
      const ref = raw.Item?.bodyRef?.S;
      expect(ref).toMatch(/^records\/jobs\/.+\/v0-[0-9a-f-]+\.json$/);
      expect(await blobs.exists(ref!)).toBe(true);
      expect(await jobs.get(job.id)).toEqual(job);

      const saved = await jobs.save({ ...job, state: 'processing' }, 0);
      expect(saved.version).toBe(1);
      expect(await blobs.exists(ref!)).toBe(false);
      expect(await jobs.get(job.id)).toEqual(saved);
      expect((await jobs.listByState('processing')).items).toEqual([saved]);

      // Two savers race from the same version: the loser must not damage the winner's body.
      const a = jobs.save({ ...saved, state: 'done' }, 1);
      const b = jobs.save({ ...saved, state: 'queued' }, 1);
      const outcomes = await Promise.allSettled([a, b]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const winner = (outcomes.find((o) => o.status === 'fulfilled') as PromiseFulfilledResult<typeof saved>).value;
      expect(await jobs.get(job.id)).toEqual(winner);

      const before = await env.clients.dynamodb.send(new GetItemCommand({ TableName: names.jobsTable, Key: { id: { S: job.id } } }));
      await jobs.delete(job.id);
      expect(await jobs.get(job.id)).toBeNull();
      expect(await blobs.exists(before.Item!.bodyRef!.S!)).toBe(false);
    } finally {
      await cleanup();
    }
  });
});

describe('S3 inputs and the lifecycle rule', () => {
  it('tags the input of a job that ends done, never that of a dead-lettered job, and tags a replayed one once it ends done', async () => {
    const { names, blobs, jobs, cleanup } = await jobStoreWithBlobs(env, 'tagdone');
    const queue = new RecordingJobQueue();
    const runner = createJobRunner({ store: jobs, effects: createJobEffects({ queue, log, retryBaseSeconds: 1, blobs }), intake: createThenSendIntake(jobs, queue), log });
    const tags = async (key: string) =>
      env.clients.s3.send(new GetObjectTaggingCommand({ Bucket: names.bucket, Key: key })).then(
        (o) => o.TagSet ?? [],
        (err: Error) => {
          // fauxqs 1.9.2 answers an object without tags with a body the SDK cannot parse.
          if (/XML parse error/.test(err.message)) return [];
          throw err;
        },
      );
    const submit = async (id: string) => {
      const key = `inputs/${id.slice(0, 2)}/${id}`;
      await blobs.put(key, Buffer.from(`image of ${id}`));
      await runner.submit({ id, kind: 'recognize', input: { key, contentType: 'image/jpeg', bytes: 10 }, options: { topK: 1, threshold: 0.6 }, maxAttempts: 1 });
      await runner.dispatch(id, { type: 'START', workerId: 'w1', leaseSeconds: 30 });
      return key;
    };
    try {
      const done = await submit('aaaaaaaa-0000-4000-8000-000000000001');
      const dead = await submit('bbbbbbbb-0000-4000-8000-000000000002');
      expect(await tags(done)).toEqual([]);
      await runner.dispatch('aaaaaaaa-0000-4000-8000-000000000001', { type: 'SUCCEED', workerId: 'w1', result: aResult() });
      await runner.dispatch('bbbbbbbb-0000-4000-8000-000000000002', { type: 'FAIL', workerId: 'w1', error: permanent() });
      expect((await jobs.get('bbbbbbbb-0000-4000-8000-000000000002'))!.state).toBe('dead-lettered');
      expect(await tags(done)).toEqual([{ Key: 'facefleet-finished', Value: 'done' }]);
      // The rule matches the tag only, so the dead letter's image stays for its replay.
      expect(await tags(dead)).toEqual([]);
      await runner.dispatch('bbbbbbbb-0000-4000-8000-000000000002', { type: 'REPLAY' });
      await runner.dispatch('bbbbbbbb-0000-4000-8000-000000000002', { type: 'START', workerId: 'w2', leaseSeconds: 30 });
      expect(await tags(dead)).toEqual([]);
      await runner.dispatch('bbbbbbbb-0000-4000-8000-000000000002', { type: 'SUCCEED', workerId: 'w2', result: aResult() });
      expect(await tags(dead)).toEqual([{ Key: 'facefleet-finished', Value: 'done' }]);
      // A job whose input is already gone (deleted at once) still ends done.
      await blobs.delete(done);
      await expect(blobs.markFinished(done)).resolves.toBeUndefined();
    } finally {
      await cleanup();
    }
  });
});

describe('SqsJobQueue', () => {
  it('refuses extend with the receipt of an earlier delivery, and a stale delete leaves the message alone', async () => {
    const names = freshNames('stale');
    const drop = await createQueues(env, names, 5);
    const queue = new SqsJobQueue({ sqs: env.clients.sqs, queueName: names.queue, deadLetterQueueName: names.deadLetterQueue });
    try {
      await queue.send({ jobId: 'j' });
      const [first] = await queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 1 });
      await sleep(1300);
      const [second] = await queue.receive({ max: 1, waitSeconds: 2, visibilitySeconds: 30 });
      expect(second?.messageId).toBe(first?.messageId);
      await expect(queue.extend(first!.receipt, 30)).rejects.toBeInstanceOf(NotFoundError);
      await queue.delete(first!.receipt);
      expect((await queue.depth()).inFlight).toBe(1);
      await queue.extend(second!.receipt, 0);
      await queue.delete((await queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 30 }))[0]!.receipt);
      expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    } finally {
      await queue.close();
      await drop();
    }
  });

  it('ends a pending long poll with [] on close', async () => {
    const names = freshNames('closing');
    const drop = await createQueues(env, names, 3);
    const queue = new SqsJobQueue({ sqs: env.clients.sqs, queueName: names.queue, deadLetterQueueName: names.deadLetterQueue });
    try {
      await queue.ping();
      const polling = queue.receive({ max: 1, waitSeconds: 15, visibilitySeconds: 30 });
      await sleep(200);
      await queue.close();
      expect(await polling).toEqual([]);
    } finally {
      await drop();
    }
  });

  it('pages through dead letters from one scan: later pages make no SQS calls', async () => {
    const names = freshNames('dlpages');
    const drop = await createQueues(env, names, 3);
    const sqs = createAwsClients(env.emulators.clientOptions).sqs;
    let receives = 0;
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ReceiveMessageCommand') receives++;
        return next(args);
      },
      { step: 'initialize', name: 'countReceives' },
    );
    const queue = new SqsJobQueue({ sqs, queueName: names.queue, deadLetterQueueName: names.deadLetterQueue });
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: names.deadLetterQueue }));
      for (const j of ['a', 'b', 'c', 'd', 'e']) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ jobId: j }) }));
      const first = await queue.listDeadLetters({ limit: 2 });
      const afterScan = receives;
      expect(afterScan).toBeGreaterThan(0);
      const second = await queue.listDeadLetters({ limit: 2, cursor: first.cursor });
      const third = await queue.listDeadLetters({ limit: 2, cursor: second.cursor });
      expect(receives).toBe(afterScan);
      expect(third.cursor).toBeUndefined();
      expect([...first.items, ...second.items, ...third.items].map((d) => d.body.jobId).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      // A fresh listing scans again and still sees all five (the scan released them).
      expect((await queue.listDeadLetters()).items).toHaveLength(5);
      expect(receives).toBeGreaterThan(afterScan);
    } finally {
      await queue.close();
      sqs.destroy();
      await drop();
    }
  });

  it('bulk-redrives the dead-letter queue into the main queue with StartMessageMoveTask (mocked: fauxqs lacks it)', async () => {
    const sqs = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const mock = mockClient(sqs);
    try {
      mock.on(GetQueueUrlCommand, { QueueName: 'p-jobs' }).resolves({ QueueUrl: 'https://sqs/1/p-jobs' });
      mock.on(GetQueueUrlCommand, { QueueName: 'p-jobs-dlq' }).resolves({ QueueUrl: 'https://sqs/1/p-jobs-dlq' });
      mock.on(GetQueueAttributesCommand, { QueueUrl: 'https://sqs/1/p-jobs' }).resolves({ Attributes: { QueueArn: 'arn:aws:sqs:us-east-1:1:p-jobs' } });
      mock.on(GetQueueAttributesCommand, { QueueUrl: 'https://sqs/1/p-jobs-dlq' }).resolves({ Attributes: { QueueArn: 'arn:aws:sqs:us-east-1:1:p-jobs-dlq' } });
      mock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
      const queue = new SqsJobQueue({ sqs, queueName: 'p-jobs', deadLetterQueueName: 'p-jobs-dlq' });
      expect(await queue.redriveAll({ maxMessagesPerSecond: 50 })).toEqual({ taskHandle: 'task-1' });
      expect(mock.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
        SourceArn: 'arn:aws:sqs:us-east-1:1:p-jobs-dlq',
        DestinationArn: 'arn:aws:sqs:us-east-1:1:p-jobs',
        MaxNumberOfMessagesPerSecond: 50,
      });
    } finally {
      mock.restore();
      sqs.destroy();
    }
  });
});

describe('createAwsClients', () => {
  it('gives up on a silent endpoint after the request timeout and maxAttempts tries, as StoreUnavailableError', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const clients = createAwsClients({ ...env.emulators.clientOptions, endpoints: { s3: url, sqs: url, dynamodb: url }, requestTimeoutMs: 300, maxAttempts: 2 });
    try {
      expect(await clients.sqs.config.maxAttempts()).toBe(2);
      const blobs = new S3BlobStore({ s3: clients.s3, bucket: 'silent' });
      const err = await blobs.get('jobs/1/input').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(sockets.length).toBe(2);
    } finally {
      clients.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
