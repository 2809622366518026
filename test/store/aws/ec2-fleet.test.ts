import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance as Ec2Instance,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBreaker } from '../../../src/controller/breaker.js';
import { CircuitOpenError } from '../../../src/controller/errors.js';
import { Ec2Fleet, FleetPartialFailureError, mapInstanceState, openEc2Fleet } from '../../../src/store/aws/ec2-fleet.js';
import { loadConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import type { FacefleetError } from '../../../src/errors.js';

const ec2 = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const mock = mockClient(ec2);

function ec2Error(name: string, status = 400): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} happened` });
}

function inst(id: string, state: string, launched = '2026-11-26T06:00:00.000Z'): Ec2Instance {
  return { InstanceId: id, State: { Name: state as never }, LaunchTime: new Date(launched) };
}

const describeFilters = (i: number) => mock.commandCalls(DescribeInstancesCommand)[i]!.args[0].input.Filters ?? [];

beforeEach(() => mock.reset());
afterEach(() => mock.reset());

describe('mapInstanceState', () => {
  it('maps EC2 states onto the fleet states and drops terminated ones', () => {
    expect(['pending', 'running', 'stopping', 'shutting-down', 'stopped', 'terminated'].map(mapInstanceState)).toEqual([
      'pending',
      'running',
      'stopping',
      'stopping',
      'stopped',
      null,
    ]);
  });
});

describe('Ec2Fleet in launch-template mode', () => {
  const fleet = () => new Ec2Fleet({ ec2, prefix: 'acme' });

  it('launches from the launch template with the facefleet tags and returns what started', async () => {
    mock.on(RunInstancesCommand).resolves({ Instances: [inst('i-1', 'pending'), inst('i-2', 'pending')] });
    const started = await fleet().launch(2);
    expect(started.map((i) => [i.id, i.state, i.workerId])).toEqual([
      ['i-1', 'pending', 'i-1'],
      ['i-2', 'pending', 'i-2'],
    ]);
    const input = mock.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(input.LaunchTemplate).toEqual({ LaunchTemplateName: 'acme-worker', Version: '$Default' });
    expect([input.MinCount, input.MaxCount]).toEqual([1, 2]);
    expect(input.ClientToken).toBeTruthy();
    const tags = input.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags;
    expect(tags).toEqual(expect.arrayContaining([{ Key: 'facefleet:prefix', Value: 'acme' }, { Key: 'facefleet:role', Value: 'worker' }]));
  });

  it('returns fewer instances when EC2 launches fewer (partial capacity), and none for count 0', async () => {
    mock.on(RunInstancesCommand).resolves({ Instances: [inst('i-1', 'pending')] });
    expect((await fleet().launch(3)).map((i) => i.id)).toEqual(['i-1']);
    expect(await fleet().launch(0)).toEqual([]);
    expect(mock.commandCalls(RunInstancesCommand)).toHaveLength(1);
  });

  it('lists only tagged instances, every page, mapping states and skipping terminated ones', async () => {
    mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [inst('i-1', 'running'), inst('i-2', 'terminated')] }], NextToken: 'p2' })
      .resolvesOnce({ Reservations: [{ Instances: [inst('i-3', 'shutting-down'), inst('i-4', 'stopped')] }] });
    const listed = await fleet().list();
    expect(listed.map((i) => [i.id, i.state])).toEqual([
      ['i-1', 'running'],
      ['i-3', 'stopping'],
      ['i-4', 'stopped'],
    ]);
    expect(listed[0]!.launchedAt).toBe('2026-11-26T06:00:00.000Z');
    expect(describeFilters(0)).toEqual(
      expect.arrayContaining([
        { Name: 'tag:facefleet:prefix', Values: ['acme'] },
        { Name: 'tag:facefleet:role', Values: ['worker'] },
      ]),
    );
    expect(mock.commandCalls(DescribeInstancesCommand)[1]!.args[0].input.NextToken).toBe('p2');
  });

  it('terminates only its own instances; unknown ids are ignored', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-1', 'running')] }] });
    mock.on(TerminateInstancesCommand).resolves({});
    await fleet().stop(['i-1', 'i-someone-elses']);
    expect(describeFilters(0)).toContainEqual({ Name: 'instance-id', Values: ['i-1', 'i-someone-elses'] });
    expect(mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-1']]);
    mock.resetHistory();
    await fleet().stop([]);
    expect(mock.calls()).toHaveLength(0);
  });

  it('turns a throttled DescribeInstances into a retryable StoreUnavailableError and reports it', async () => {
    mock.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));
    const failures: FacefleetError[] = [];
    const f = new Ec2Fleet({ ec2, prefix: 'acme', onCallFailure: (e) => failures.push(e) });
    const err = await f.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).retryable).toBe(true);
    expect(failures.map((e) => e.code)).toEqual(['store-unavailable']);
  });

  it('opens the controller breaker after throttled DescribeInstances calls, then stops calling EC2', async () => {
    mock.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));
    let now = 0;
    const breaker = createBreaker({ name: 'controller', failureThreshold: 3, cooldownMs: 30_000, now: () => now });
    const f = fleet();
    for (let i = 0; i < 3; i++) await expect(breaker.call(() => f.list())).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(breaker.state()).toBe('open');
    await expect(breaker.call(() => f.list())).rejects.toBeInstanceOf(CircuitOpenError);
    expect(mock.commandCalls(DescribeInstancesCommand)).toHaveLength(3);
    // After the cool-down one probe goes through; EC2 answering closes the breaker again.
    now += 30_001;
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    expect(await breaker.call(() => f.list())).toEqual([]);
    expect(breaker.state()).toBe('closed');
  });

  it('does not count an instance EC2 refuses for good as an outage (partial failure not retryable)', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-1', 'running')] }] });
    mock.on(TerminateInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 403));
    const err = await fleet()
      .stop(['i-1'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetPartialFailureError);
    expect((err as FleetPartialFailureError).retryable).toBe(false);
  });
});

describe('Ec2Fleet in pool mode', () => {
  const fleet = () => new Ec2Fleet({ ec2, prefix: 'acme', mode: 'pool' });

  it('starts stopped pool instances, no more than asked', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-1', 'running'), inst('i-2', 'stopped'), inst('i-3', 'stopped'), inst('i-4', 'stopped')] }] });
    mock.on(StartInstancesCommand).resolves({});
    const started = await fleet().launch(2);
    expect(started.map((i) => [i.id, i.state])).toEqual([
      ['i-2', 'pending'],
      ['i-3', 'pending'],
    ]);
    expect(mock.commandCalls(StartInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-2', 'i-3']]);
    expect(mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('retries one by one when a batch start hits IncorrectInstanceState, returning the ones that started', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-2', 'stopped'), inst('i-3', 'stopped')] }] });
    mock
      .on(StartInstancesCommand)
      .rejects(ec2Error('IncorrectInstanceState'))
      .on(StartInstancesCommand, { InstanceIds: ['i-2'] })
      .resolves({})
      .on(StartInstancesCommand, { InstanceIds: ['i-3'] })
      .rejects(ec2Error('IncorrectInstanceState'));
    const started = await fleet().launch(2);
    expect(started.map((i) => i.id)).toEqual(['i-2']);
    expect(mock.commandCalls(StartInstancesCommand)).toHaveLength(3);
  });

  it('stops instances; an instance already stopping is fine, another failure is reported with the rest done', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-1', 'running'), inst('i-2', 'stopping'), inst('i-3', 'running')] }] });
    mock
      .on(StopInstancesCommand)
      .rejects(ec2Error('IncorrectInstanceState'))
      .on(StopInstancesCommand, { InstanceIds: ['i-1'] })
      .resolves({})
      .on(StopInstancesCommand, { InstanceIds: ['i-2'] })
      .rejects(ec2Error('IncorrectInstanceState'))
      .on(StopInstancesCommand, { InstanceIds: ['i-3'] })
      .rejects(ec2Error('UnauthorizedOperation', 403));
    const err = await fleet()
      .stop(['i-1', 'i-2', 'i-3'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetPartialFailureError);
    const partial = err as FleetPartialFailureError;
    expect(partial.succeeded).toEqual(['i-1', 'i-2']);
    expect(partial.failures.map((f) => [f.instanceId, f.error.code])).toEqual([['i-3', 'store-permanent']]);
    expect(mock.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
  });

  it('treats an instance that vanished (InvalidInstanceID.NotFound) while stopping as stopped', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-1', 'running')] }] });
    mock.on(StopInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    await expect(fleet().stop(['i-1'])).resolves.toBeUndefined();
  });
});

describe('openEc2Fleet', () => {
  it('takes the mode and prefix from the configuration', async () => {
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [inst('i-9', 'stopped')] }] });
    mock.on(StartInstancesCommand).resolves({});
    const config = loadConfig({ backend: 'aws', prefix: 'acme' }, { FACEFLEET_FLEET_MODE: 'pool', AWS_REGION: 'us-east-1' });
    const fleet = await openEc2Fleet(config, silentLogger(), { ec2 });
    expect((await fleet.launch(1)).map((i) => i.id)).toEqual(['i-9']);
    expect(describeFilters(0)).toContainEqual({ Name: 'tag:facefleet:prefix', Values: ['acme'] });
    expect(mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
    await fleet.close();
    expect(() => loadConfig({}, { FACEFLEET_FLEET_MODE: 'spot' })).toThrow(/fleet mode/);
  });
});
