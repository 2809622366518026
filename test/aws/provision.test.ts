import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  ModifyLaunchTemplateCommand,
  DeleteLaunchTemplateCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2ServiceException,
  TerminateInstancesCommand,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { RETIRED_EXIT_CODE } from '../../src/controller/fleet.js';
import { resourceNames } from '../../src/aws/names.js';
import { launchTemplateData, provision, type LaunchTemplateOptions, type WorkerInstall } from '../../src/aws/provision.js';
import { teardown } from '../../src/aws/teardown.js';
import { runProvisionCli } from '../../src/aws/cli.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { startEmulators, testPrefix, type Emulators } from '../helpers/emulators.js';

let emulators: Emulators;
let clients: AwsClients;
let ec2: ReturnType<typeof mockClient>;
/** The fake EC2's launch templates: name -> latest data. */
let templates: Map<string, RequestLaunchTemplateData>;
const log = silentLogger();
/** A stand-in for `npm pack`'s tarball: provision uploads and hashes it, never opens it. */
let tmp: string;
let tarball: string;
let tarballSha: string;
let lt: LaunchTemplateOptions;
const install: WorkerInstall = { kind: 'release', bucket: 'acme-blobs', key: 'releases/x/facefleet-0.2.0.tgz', sha256: 'a'.repeat(64) };

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ff-provision-'));
  tarball = path.join(tmp, 'facefleet-0.2.0.tgz');
  writeFileSync(tarball, 'the operator built this');
  tarballSha = createHash('sha256').update('the operator built this').digest('hex');
  lt = { package: { kind: 'tarball', path: tarball } };
  emulators = await startEmulators();
  clients = createAwsClients(emulators.clientOptions);
  ec2 = mockClient(clients.ec2);
});

afterAll(async () => {
  ec2?.restore();
  clients?.destroy();
  await emulators?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  templates = new Map();
  ec2.reset();
  ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake(async (input: { LaunchTemplateName: string }) => {
    const data = templates.get(input.LaunchTemplateName);
    if (!data) {
      throw new EC2ServiceException({ name: 'InvalidLaunchTemplateName.NotFoundException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'not found' });
    }
    return { LaunchTemplateVersions: [{ LaunchTemplateName: input.LaunchTemplateName, VersionNumber: 1, LaunchTemplateData: data }] };
  });
  ec2.on(CreateLaunchTemplateCommand).callsFake(async (input: { LaunchTemplateName: string; LaunchTemplateData: RequestLaunchTemplateData }) => {
    templates.set(input.LaunchTemplateName, input.LaunchTemplateData);
    return { LaunchTemplate: { LaunchTemplateName: input.LaunchTemplateName } };
  });
  ec2.on(DeleteLaunchTemplateCommand).callsFake(async (input: { LaunchTemplateName: string }) => {
    if (!templates.delete(input.LaunchTemplateName)) {
      throw new EC2ServiceException({ name: 'InvalidLaunchTemplateName.NotFoundException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'not found' });
    }
    return {};
  });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
});

/** kind:name -> action (the jobs queue and the jobs table share a name). */
const actions = (r: { resources: Array<{ kind: string; name: string; action: string }> }) => Object.fromEntries(r.resources.map((x) => [`${x.kind}:${x.name}`, x.action]));

describe('provision against the emulators (EC2 mocked)', () => {
  it('creates everything once, then reports no changes on a second run', async () => {
    const prefix = testPrefix('prov');
    const names = resourceNames(prefix);
    const first = await provision({ prefix, region: emulators.region, log, clients, maxReceiveCount: 4, visibilitySeconds: 45, launchTemplate: lt });
    expect(first.changed).toBe(true);
    expect(Object.values(actions(first))).toEqual(Array(first.resources.length).fill('created'));
    expect(first.resources.map((r) => r.kind).sort()).toEqual(
      ['dynamodb-table', 'dynamodb-table', 'dynamodb-table', 'dynamodb-table', 'launch-template', 's3-bucket', 's3-lifecycle', 's3-object', 'sqs-queue', 'sqs-queue'].sort(),
    );

    // What was created is what the adapters expect.
    await clients.s3.send(new HeadBucketCommand({ Bucket: names.bucket }));
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: names.queue }));
    const attrs = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes!;
    expect(attrs.VisibilityTimeout).toBe('45');
    expect(JSON.parse(attrs.RedrivePolicy!)).toMatchObject({ deadLetterTargetArn: expect.stringContaining(names.deadLetterQueue) });
    expect(Number(JSON.parse(attrs.RedrivePolicy!).maxReceiveCount)).toBe(4);
    const table = (await clients.dynamodb.send(new DescribeTableCommand({ TableName: names.jobsTable }))).Table!;
    expect(table.GlobalSecondaryIndexes?.map((g) => g.IndexName)).toEqual([names.jobsStateIndex]);
    expect(table.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const userData = Buffer.from(templates.get(names.launchTemplate)!.UserData!, 'base64').toString('utf8');
    expect(userData).toContain(`facefleet worker --backend aws --prefix ${prefix}`);
    expect(userData).toContain('FACEFLEET_MAX_RECEIVES=4');
    // The workers install the uploaded tarball, checked against its hash, and nothing by bare name.
    const key = `releases/${tarballSha}/facefleet-0.2.0.tgz`;
    const object = await clients.s3.send(new GetObjectCommand({ Bucket: names.bucket, Key: key }));
    expect(await object.Body!.transformToString()).toBe('the operator built this');
    expect(object.Metadata?.sha256).toBe(tarballSha);
    expect(userData).toContain(`s3://${names.bucket}/${key}`);
    expect(userData).toContain(`"$GOT_SHA256" != '${tarballSha}'`);
    expect(userData).not.toMatch(/npm install -g '?facefleet'?\s*$/m);
    expect(first.workerPackage).toContain(tarballSha);

    const second = await provision({ prefix, region: emulators.region, log, clients, maxReceiveCount: 4, visibilitySeconds: 45, launchTemplate: lt });
    expect(second.changed).toBe(false);
    expect(Object.values(actions(second))).toEqual(Array(second.resources.length).fill('unchanged'));
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(1);

    await teardown({ prefix, region: emulators.region, yes: true, log, clients });
  });

  it('plans without changing anything on --dry-run', async () => {
    const prefix = testPrefix('dry');
    const plan = await provision({ prefix, region: emulators.region, log, clients, dryRun: true, launchTemplate: lt });
    expect(plan.dryRun).toBe(true);
    expect(plan.changed).toBe(true);
    expect(Object.values(actions(plan))).toEqual(Array(plan.resources.length).fill('planned'));
    await expect(clients.s3.send(new HeadBucketCommand({ Bucket: resourceNames(prefix).bucket }))).rejects.toThrow();
    await expect(clients.sqs.send(new GetQueueUrlCommand({ QueueName: resourceNames(prefix).queue }))).rejects.toThrow();
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(0);
  });

  it('corrects drift: a changed queue attribute or launch template is planned, then updated', async () => {
    const prefix = testPrefix('drift');
    const names = resourceNames(prefix);
    await provision({ prefix, region: emulators.region, log, clients, launchTemplate: lt });
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: names.queue }));
    await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '300' } }));

    const plan = await provision({ prefix, region: emulators.region, log, clients, dryRun: true, launchTemplate: { ...lt, instanceType: 'c7i.large' } });
    expect(actions(plan)[`sqs-queue:${names.queue}`]).toBe('planned');
    expect(actions(plan)[`launch-template:${names.launchTemplate}`]).toBe('planned');
    expect(actions(plan)[`s3-bucket:${names.bucket}`]).toBe('unchanged');

    ec2.on(CreateLaunchTemplateVersionCommand).callsFake(async (input: { LaunchTemplateName: string; LaunchTemplateData: RequestLaunchTemplateData }) => {
      templates.set(input.LaunchTemplateName, input.LaunchTemplateData);
      return { LaunchTemplateVersion: { VersionNumber: 2 } };
    });
    ec2.on(ModifyLaunchTemplateCommand).resolves({});
    const applied = await provision({ prefix, region: emulators.region, log, clients, launchTemplate: { ...lt, instanceType: 'c7i.large' } });
    expect(actions(applied)[`sqs-queue:${names.queue}`]).toBe('updated');
    expect(actions(applied)[`launch-template:${names.launchTemplate}`]).toBe('updated');
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0]!.args[0].input.DefaultVersion).toBe('2');
    const attrs = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['VisibilityTimeout'] }))).Attributes!;
    expect(attrs.VisibilityTimeout).toBe('30');

    const again = await provision({ prefix, region: emulators.region, log, clients, launchTemplate: { ...lt, instanceType: 'c7i.large' } });
    expect(again.changed).toBe(false);
    await teardown({ prefix, region: emulators.region, yes: true, log, clients });
  });

  it('uploads a rebuilt tarball under a new key and points the launch template at it; --package SPEC uploads nothing and is in the plan', async () => {
    const prefix = testPrefix('pkg');
    const names = resourceNames(prefix);
    await provision({ prefix, region: emulators.region, log, clients, launchTemplate: lt });
    ec2.on(CreateLaunchTemplateVersionCommand).callsFake(async (input: { LaunchTemplateName: string; LaunchTemplateData: RequestLaunchTemplateData }) => {
      templates.set(input.LaunchTemplateName, input.LaunchTemplateData);
      return { LaunchTemplateVersion: { VersionNumber: 2 } };
    });
    ec2.on(ModifyLaunchTemplateCommand).resolves({});
    const rebuilt = path.join(tmp, 'rebuilt.tgz');
    writeFileSync(rebuilt, 'a later build');
    const sha = createHash('sha256').update('a later build').digest('hex');
    const second = await provision({ prefix, region: emulators.region, log, clients, launchTemplate: { package: { kind: 'tarball', path: rebuilt } } });
    expect(actions(second)[`s3-object:${names.bucket}/releases/${sha}/rebuilt.tgz`]).toBe('created');
    expect(actions(second)[`launch-template:${names.launchTemplate}`]).toBe('updated');
    expect(Buffer.from(templates.get(names.launchTemplate)!.UserData!, 'base64').toString('utf8')).toContain(`'${sha}'`);

    const lines: string[] = [];
    const config = loadConfig({ backend: 'aws', prefix }, { AWS_REGION: emulators.region });
    const plan = await runProvisionCli({ config, log, clients, dryRun: true, launchTemplate: { package: { kind: 'spec', spec: '@acme/facefleet@1.2.3' } }, out: (l) => lines.push(l) });
    expect(plan!.resources.map((r) => r.kind)).not.toContain('s3-object');
    expect(actions(plan!)[`launch-template:${names.launchTemplate}`]).toBe('planned');
    expect(lines).toContain('Workers install npm install -g @acme/facefleet@1.2.3 (given with --package).');
    await expect(provision({ prefix, region: emulators.region, log, clients, launchTemplate: { package: { kind: 'tarball', path: path.join(tmp, 'missing.tgz') } } })).rejects.toMatchObject({
      code: 'config',
      message: expect.stringContaining('no such file'),
    });
    await teardown({ prefix, region: emulators.region, yes: true, log, clients });
  });

  it('prints the report through the CLI helper, and says when nothing changes', async () => {
    const prefix = testPrefix('cli');
    const config = loadConfig({ backend: 'aws', prefix }, { AWS_REGION: emulators.region });
    const lines: string[] = [];
    await runProvisionCli({ config, log, clients, launchTemplate: lt, out: (l) => lines.push(l) });
    lines.length = 0;
    await runProvisionCli({ config, log, clients, launchTemplate: lt, out: (l) => lines.push(l) });
    expect(lines.at(-1)).toMatch(/Nothing to change/);
    expect(lines.filter((l) => l.includes('unchanged'))).toHaveLength(10);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^Workers install s3://.*${tarballSha}.*checked before install`)));
    await teardown({ prefix, region: emulators.region, yes: true, log, clients });
  });
});

describe('teardown', () => {
  it('refuses without yes', async () => {
    await expect(teardown({ prefix: 'never-x', region: emulators.region, yes: false, log, clients })).rejects.toMatchObject({ code: 'config' });
  });

  it('deletes every resource, worker instances and objects included; a second run finds nothing', async () => {
    const prefix = testPrefix('down');
    const names = resourceNames(prefix);
    await provision({ prefix, region: emulators.region, log, clients, launchTemplate: lt });
    const { S3BlobStore } = await import('../../src/store/aws/s3-blob-store.js');
    await new S3BlobStore({ s3: clients.s3, bucket: names.bucket }).put('jobs/1/input', Buffer.from('x'));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1' }, { InstanceId: 'i-2' }] }] });
    ec2.on(TerminateInstancesCommand).resolves({});

    const first = await teardown({ prefix, region: emulators.region, yes: true, log, clients });
    expect(first.resources.every((r) => r.action === 'deleted')).toBe(true);
    expect(first.resources.map((r) => r.kind)).toContain('s3-bucket');
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input.InstanceIds).toEqual(['i-1', 'i-2']);
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'tag:facefleet:prefix', Values: [prefix] });
    await expect(clients.s3.send(new HeadBucketCommand({ Bucket: names.bucket }))).rejects.toThrow();
    await expect(clients.dynamodb.send(new DescribeTableCommand({ TableName: names.jobsTable }))).rejects.toThrow();

    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const second = await teardown({ prefix, region: emulators.region, yes: true, log, clients });
    expect(second.resources.every((r) => r.action === 'absent')).toBe(true);
  });
});

describe('launchTemplateData', () => {
  it('tags workers, requires IMDSv2, and starts the worker for the prefix from user data', () => {
    const data = launchTemplateData({ prefix: 'acme', region: 'eu-west-1' }, { instanceProfileName: 'acme-worker', securityGroupIds: ['sg-1'] }, install);
    expect(data.MetadataOptions?.HttpTokens).toBe('required');
    expect(data.IamInstanceProfile).toEqual({ Name: 'acme-worker' });
    expect(data.TagSpecifications?.[0]?.Tags).toContainEqual({ Key: 'facefleet:role', Value: 'worker' });
    const script = Buffer.from(data.UserData!, 'base64').toString('utf8');
    expect(script).toContain('Environment=AWS_REGION=eu-west-1');
    expect(script).toContain('facefleet worker --backend aws --prefix acme');
    expect(script).toContain('KillSignal=SIGTERM');
  });

  it('installs Node 22 on the worker (Node 20 reached end of life)', () => {
    const script = Buffer.from(launchTemplateData({ prefix: 'acme', region: 'eu-west-1' }, {}, install).UserData!, 'base64').toString('utf8');
    expect(script).toContain('dnf install -y nodejs22 nodejs22-npm');
    expect(script).toContain('< 22)');
    expect(script).not.toContain('nodejs20');
  });

  it('powers a retired worker\'s instance off, and that terminates it', () => {
    const data = launchTemplateData({ prefix: 'acme', region: 'eu-west-1' }, {}, install);
    expect(data.InstanceInitiatedShutdownBehavior).toBe('terminate');
    const script = Buffer.from(data.UserData!, 'base64').toString('utf8');
    // Render the unit file the way cloud-init's bash would: the heredoc expands INSTANCE_ID
    // but must leave EXIT_STATUS for the shell systemd runs after the worker exits.
    const heredoc = script.slice(script.indexOf('cat >/etc/systemd/system/facefleet-worker.service <<UNIT'));
    const body = heredoc.slice(heredoc.indexOf('\n') + 1, heredoc.indexOf('\nUNIT\n'));
    const unit = execFileSync('bash', ['-c', `cat <<UNIT\n${body}\nUNIT`], { env: { ...process.env, INSTANCE_ID: 'i-0abc' }, encoding: 'utf8' });
    expect(unit).toContain('Environment=FACEFLEET_WORKER_ID=i-0abc');
    expect(unit).toContain(`SuccessExitStatus=${RETIRED_EXIT_CODE}`);
    expect(unit).toContain(`RestartPreventExitStatus=${RETIRED_EXIT_CODE}`);
    const stopPost = unit.split('\n').find((l) => l.startsWith('ExecStopPost='));
    expect(stopPost).toBe(`ExecStopPost=+/bin/sh -c 'if [ "$EXIT_STATUS" = ${RETIRED_EXIT_CODE} ]; then systemctl poweroff; fi'`);
    // The command itself: powers off on the retired code only.
    const command = stopPost!.slice(stopPost!.indexOf("'") + 1, stopPost!.lastIndexOf("'")).replace('systemctl poweroff', 'echo poweroff');
    const run = (status: number) => execFileSync('sh', ['-c', command], { env: { ...process.env, EXIT_STATUS: String(status) }, encoding: 'utf8' }).trim();
    expect(run(RETIRED_EXIT_CODE)).toBe('poweroff');
    expect(run(0)).toBe('');
    expect(run(1)).toBe('');
  });
});
