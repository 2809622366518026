/**
 * The IAM documents must grant every call the adapters make, and nothing on resources of
 * another prefix. The calls are recorded from the adapters themselves, on the emulators.
 */
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { COMMAND_ACTIONS, iamPolicies, type IamPolicyDocument } from '../../src/aws/iam.js';
import { resourceNames } from '../../src/aws/names.js';
import { provision } from '../../src/aws/provision.js';
import { teardown } from '../../src/aws/teardown.js';
import { Ec2Fleet } from '../../src/store/aws/ec2-fleet.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { openAwsStores } from '../../src/store/aws/index.js';
import { aDescriptor, aJob, sleep } from '../helpers/builders.js';
import { startEmulators, testPrefix, type Emulators } from '../helpers/emulators.js';

const log = silentLogger();
let emulators: Emulators;
let clients: AwsClients;
const calls: Array<{ command: string; input: Record<string, unknown> }> = [];
const prefix = testPrefix('iam');
const region = 'us-east-1';

beforeAll(async () => {
  emulators = await startEmulators();
  clients = createAwsClients(emulators.clientOptions);
  await provision({ prefix, region, log, clients, launchTemplate: false, maxReceiveCount: 1 });
  for (const client of [clients.s3, clients.sqs, clients.dynamodb] as Array<{ middlewareStack: AwsClients['s3']['middlewareStack'] }>) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push({ command: String(context.commandName).replace(/Command$/, ''), input: args.input as Record<string, unknown> });
        return next(args);
      },
      { step: 'initialize', name: 'recordCalls' },
    );
  }
});

afterAll(async () => {
  await teardown({ prefix, region, yes: true, log, clients, ec2: false }).catch(() => undefined);
  clients?.destroy();
  await emulators?.stop();
});

/** The ARN a recorded call touches, from its input. */
function arnOf(call: { command: string; input: Record<string, unknown> }): string {
  const names = resourceNames(prefix);
  const { input } = call;
  if (typeof input.Bucket === 'string') return call.command === 'HeadBucket' ? `arn:aws:s3:::${input.Bucket}` : `arn:aws:s3:::${input.Bucket}/*`;
  const queue = (typeof input.QueueName === 'string' ? input.QueueName : String(input.QueueUrl ?? input.SourceArn ?? '').split(/[/:]/).pop()) as string;
  if (queue) return `arn:aws:sqs:${region}:*:${queue}`;
  const table = (input.TableName as string | undefined) ?? Object.keys((input.RequestItems as object | undefined) ?? {})[0];
  if (table) return `arn:aws:dynamodb:${region}:*:table/${table}${input.IndexName ? `/index/${input.IndexName}` : ''}`;
  throw new Error(`cannot tell the resource of ${call.command} (${JSON.stringify(input).slice(0, 200)}) for ${names.prefix}`);
}

function granted(policies: Record<string, IamPolicyDocument>, action: string, arn: string): string[] {
  return Object.entries(policies)
    .filter(([, doc]) => doc.Statement.some((s) => s.Action.includes(action) && (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).some((r) => r === arn || r === '*' || (r.endsWith('/*') && arn.startsWith(r.slice(0, -1))))))
    .map(([role]) => role);
}

describe('IAM policies', () => {
  it('grant every call the store adapters make, each on its own resource', async () => {
    const config = loadConfig({ backend: 'aws', prefix, maxReceives: '1' }, { AWS_REGION: region });
    const stores = await openAwsStores(config, log, { clients: { ...clients, destroy: () => undefined } });
    // Every port method, the way the tiers use them.
    await Promise.all([stores.blobs.ping(), stores.jobs.ping(), stores.queue.ping(), stores.gallery.ping()]);
    await stores.blobs.put('jobs/1/input', Buffer.from('x'));
    await stores.blobs.get('jobs/1/input');
    await stores.blobs.exists('jobs/1/input');
    await stores.blobs.delete('jobs/1/input');
    const job = aJob();
    await stores.jobs.create(job);
    await stores.jobs.save(job, 0);
    await stores.jobs.get(job.id);
    await stores.jobs.listByState('queued');
    await stores.jobs.countByState();
    await stores.jobs.delete(job.id);
    await stores.queue.send({ jobId: 'a' });
    const [m] = await stores.queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 1 });
    await stores.queue.extend(m!.receipt, 1);
    await stores.queue.depth();
    await sleep(1200);
    // maxReceiveCount 1: the next receive moves it to the DLQ.
    await stores.queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 1 });
    await stores.queue.send({ jobId: 'b' });
    const [m2] = await stores.queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 30 });
    await stores.queue.delete(m2!.receipt);
    await stores.queue.listDeadLetters();
    await stores.queue.deleteDeadLettersFor('a');
    await stores.queue.deadLetterDepth();
    await stores.gallery.createIdentity('Ada');
    await stores.gallery.addFace('Ada', { descriptor: aDescriptor(1) });
    await stores.gallery.getIdentity('Ada');
    await stores.gallery.listIdentities();
    await stores.gallery.listFaces();
    await stores.gallery.removeIdentity('Ada');
    await stores.gallery.version();
    await stores.keys.create({ id: 'k1', role: 'client', hash: 'h', salt: 's', createdAt: new Date().toISOString() });
    await stores.keys.get('k1');
    await stores.keys.list();
    await stores.keys.revoke('k1', new Date().toISOString());
    await stores.registry.heartbeat({ workerId: 'w', busy: false, at: new Date().toISOString(), jobsDone: 0 });
    await stores.registry.retire('w', new Date().toISOString());
    await stores.registry.list();
    await stores.registry.remove('w');
    await stores.close();

    const policies = iamPolicies({ prefix, region });
    const seen = new Set(calls.map((c) => c.command));
    for (const cmd of ['PutObject', 'GetObject', 'HeadObject', 'DeleteObject', 'SendMessage', 'ReceiveMessage', 'ChangeMessageVisibility', 'DeleteMessage', 'PutItem', 'Query', 'Scan', 'BatchWriteItem', 'UpdateItem']) {
      expect(seen, cmd).toContain(cmd);
    }
    const missing = calls
      .map((c) => ({ ...c, action: COMMAND_ACTIONS[c.command], arn: arnOf(c) }))
      .filter((c) => !c.action || granted(policies, c.action, c.arn).length === 0)
      .map((c) => `${c.command} on ${c.arn}`);
    expect([...new Set(missing)]).toEqual([]);
  });

  it('grant the controller every call the EC2 fleet makes, and the web and worker roles none', async () => {
    const ec2 = new EC2Client({ region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const mock = mockClient(ec2);
    try {
      mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'stopped' } }] }] });
      mock.on(RunInstancesCommand).resolves({ Instances: [] });
      for (const mode of ['launch-template', 'pool'] as const) {
        const fleet = new Ec2Fleet({ ec2, prefix, mode });
        await fleet.list();
        await fleet.launch(1);
        await fleet.stop(['i-1']);
      }
      const used = new Set(mock.calls().map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, '')));
      expect([...used].sort()).toEqual(['DescribeInstances', 'RunInstances', 'StartInstances', 'StopInstances', 'TerminateInstances']);
      const policies = iamPolicies({ prefix, region, accountId: '123456789012' });
      for (const cmd of used) {
        const action = COMMAND_ACTIONS[cmd]!;
        const holders = Object.entries(policies).filter(([, d]) => d.Statement.some((s) => s.Action.includes(action))).map(([r]) => r);
        expect(holders, cmd).toEqual(['controller']);
      }
      expect(mock.commandCalls(StartInstancesCommand).length + mock.commandCalls(StopInstancesCommand).length + mock.commandCalls(TerminateInstancesCommand).length).toBe(3);
    } finally {
      mock.restore();
      ec2.destroy();
    }
  });

  it('scope every non-EC2 statement to this prefix and keep roles apart', () => {
    const policies = iamPolicies({ prefix: 'acme', region: 'eu-west-1', accountId: '123456789012', kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k' });
    for (const [role, doc] of Object.entries(policies)) {
      expect(doc.Version).toBe('2012-10-17');
      for (const s of doc.Statement) {
        const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
        if (s.Action.every((a) => a.startsWith('s3:') || a.startsWith('sqs:') || a.startsWith('dynamodb:'))) {
          for (const r of resources) expect(r, `${role} ${s.Sid}`).toMatch(/acme-/);
        }
        expect(s.Action.some((a) => a === '*' || a.endsWith(':*')), `${role} ${s.Sid}`).toBe(false);
      }
    }
    const actions = (role: keyof typeof policies) => policies[role].Statement.flatMap((s) => s.Action);
    expect(actions('worker')).toContain('sqs:ReceiveMessage');
    expect(actions('web')).not.toContain('sqs:ReceiveMessage'.replace('Receive', 'ChangeVisibility'));
    expect(actions('web')).toContain('sqs:StartMessageMoveTask');
    expect(actions('worker')).not.toContain('sqs:StartMessageMoveTask');
    expect(actions('worker')).not.toContain('ec2:RunInstances');
    expect(actions('controller')).toContain('iam:PassRole');
    expect(actions('worker')).toContain('kms:GenerateDataKey');
    expect(JSON.stringify(policies.worker)).not.toContain('-keys');
  });
});
