/**
 * Fleet on EC2. Two modes:
 * - `launch-template` (default): `launch` runs new instances from the worker launch template
 *   (`provision` creates it) with `facefleet:*` tags; `stop` terminates them, so an idle fleet
 *   costs nothing.
 * - `pool`: the classic design. A fixed set of pre-created instances tagged
 *   `facefleet:prefix=P` and `facefleet:role=worker` is started and stopped; stopped instances
 *   cost only their EBS volumes and start faster than new ones.
 *
 * Only instances carrying both tags are ever listed, started, stopped or terminated. Batch calls
 * that fail because one instance is in the wrong state (`IncorrectInstanceState`) are retried
 * one instance at a time, so one bad id does not block the rest; what still fails is reported
 * with {@link FleetPartialFailureError}, never dropped.
 */
import type { EC2Client, Instance as Ec2Instance } from '@aws-sdk/client-ec2';
import { DescribeInstancesCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import { FacefleetError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { workerName, TAG_PREFIX, TAG_ROLE, WORKER_ROLE } from '../../aws/names.js';
import type { Fleet, Instance, InstanceState } from '../../controller/fleet.js';
import { awsErrorCode, classifyAwsError } from './errors.js';

export type Ec2FleetMode = 'launch-template' | 'pool';

export interface Ec2FleetOptions {
  ec2: EC2Client;
  prefix: string;
  /** Default `launch-template`. */
  mode?: Ec2FleetMode;
  /** Launch template name (launch-template mode). Default `<prefix>-worker`. */
  launchTemplateName?: string;
  /** Launch template version. Default `$Default`, the one `provision` sets. */
  launchTemplateVersion?: string;
  log?: Logger;
  /** Called once per failed EC2 call (after SDK retries), e.g. to feed a circuit breaker. */
  onCallFailure?: (error: FacefleetError) => void;
}

/** Some instances of a batch failed; `failures` says which and why. The rest succeeded. */
export class FleetPartialFailureError extends FacefleetError {
  readonly code = 'fleet-partial-failure';
  /** Retryable only when some failure was: EC2 refusing an instance for good is not an outage. */
  readonly retryable: boolean;
  constructor(
    message: string,
    readonly failures: Array<{ instanceId: string; error: FacefleetError }>,
    readonly succeeded: string[],
  ) {
    super(message, { details: { failed: failures.map((f) => `${f.instanceId}: ${f.error.code}`), succeeded } });
    this.retryable = failures.some((f) => f.error.retryable);
  }
}

/** EC2 state name -> fleet state; `terminated` (and unknown) instances are not listed. */
export function mapInstanceState(name: string | undefined): InstanceState | null {
  switch (name) {
    case 'pending':
      return 'pending';
    case 'running':
      return 'running';
    case 'stopping':
    case 'shutting-down':
      return 'stopping';
    case 'stopped':
      return 'stopped';
    default:
      return null;
  }
}

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

export class Ec2Fleet implements Fleet {
  private readonly ec2: EC2Client;
  private readonly prefix: string;
  private readonly mode: Ec2FleetMode;
  private readonly template: string;
  private readonly templateVersion: string;
  private readonly log?: Logger;
  private readonly onCallFailure?: (error: FacefleetError) => void;

  constructor(options: Ec2FleetOptions) {
    this.ec2 = options.ec2;
    this.prefix = options.prefix;
    this.mode = options.mode ?? 'launch-template';
    this.template = options.launchTemplateName ?? workerName(options.prefix);
    this.templateVersion = options.launchTemplateVersion ?? '$Default';
    this.log = options.log;
    this.onCallFailure = options.onCallFailure;
  }

  async list(): Promise<Instance[]> {
    const raw = await this.describe();
    return raw.flatMap((i) => {
      const state = mapInstanceState(i.State?.Name);
      return state && i.InstanceId ? [toInstance(i, state)] : [];
    });
  }

  async launch(count: number): Promise<Instance[]> {
    const n = Math.floor(count);
    if (n <= 0) return [];
    return this.mode === 'pool' ? this.startFromPool(n) : this.runNew(n);
  }

  async stop(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    // Only our own instances: an id that is not tagged for this prefix is ignored, never stopped.
    const ours = new Set((await this.describe(ids)).filter((i) => mapInstanceState(i.State?.Name) !== null).map((i) => i.InstanceId!));
    const targets = ids.filter((id) => ours.has(id));
    if (targets.length === 0) return;
    const op = this.mode === 'pool' ? 'stop' : 'terminate';
    const send = (batch: string[]) =>
      this.mode === 'pool'
        ? this.ec2.send(new StopInstancesCommand({ InstanceIds: batch }))
        : this.ec2.send(new TerminateInstancesCommand({ InstanceIds: batch }));
    // Already stopping or stopped is what we wanted.
    await this.eachTolerant(op, targets, send, ['IncorrectInstanceState', 'InvalidInstanceID.NotFound']);
  }

  async close(): Promise<void> {}

  private async runNew(count: number): Promise<Instance[]> {
    // Tags given here replace the template's tags for the same resource type, so repeat Name.
    const tags = [
      { Key: TAG_PREFIX, Value: this.prefix },
      { Key: TAG_ROLE, Value: WORKER_ROLE },
      { Key: 'Name', Value: workerName(this.prefix) },
    ];
    const out = await this.call('run instances', () =>
      this.ec2.send(
        new RunInstancesCommand({
          LaunchTemplate: { LaunchTemplateName: this.template, Version: this.templateVersion },
          // MinCount 1: take what capacity there is rather than nothing (partial launch).
          MinCount: 1,
          MaxCount: count,
          // One token per call: the SDK's own retries of this call cannot launch twice.
          ClientToken: randomUUID(),
          TagSpecifications: [
            { ResourceType: 'instance', Tags: tags },
            { ResourceType: 'volume', Tags: tags },
          ],
        }),
      ),
    );
    const started = (out.Instances ?? []).filter((i) => i.InstanceId).map((i) => toInstance(i, mapInstanceState(i.State?.Name) ?? 'pending'));
    if (started.length < count) this.log?.warn({ asked: count, launched: started.length }, 'EC2 launched fewer workers than asked');
    return started;
  }

  private async startFromPool(count: number): Promise<Instance[]> {
    const stopped = (await this.describe()).filter((i) => i.State?.Name === 'stopped' && i.InstanceId);
    const chosen = stopped.slice(0, count).map((i) => i.InstanceId!);
    if (chosen.length < count) this.log?.warn({ asked: count, available: chosen.length }, 'the worker pool has fewer stopped instances than asked');
    if (chosen.length === 0) return [];
    const started = await this.eachTolerant('start', chosen, (batch) => this.ec2.send(new StartInstancesCommand({ InstanceIds: batch })), [], true);
    const at = new Date().toISOString();
    return started.map((id) => ({ id, state: 'pending' as const, launchedAt: at, workerId: id }));
  }

  /**
   * Run `send` on the whole batch; if EC2 refuses it because of one instance, retry each
   * instance alone. Errors with a code in `tolerated` count as success. Returns the ids that
   * succeeded; throws FleetPartialFailureError listing the rest (unless `returnPartial`, which
   * logs them and returns the successes, as `launch` must).
   */
  private async eachTolerant(op: string, ids: string[], send: (batch: string[]) => Promise<unknown>, tolerated: string[], returnPartial = false): Promise<string[]> {
    try {
      await this.call(`${op} instances`, () => send(ids));
      return ids;
    } catch (err) {
      const code = awsErrorCode((err as { cause?: unknown }).cause);
      if (ids.length === 1 && code && tolerated.includes(code)) return ids;
      if (code !== 'IncorrectInstanceState' && code !== 'InvalidInstanceID.NotFound' && ids.length > 1) throw err;
      if (ids.length === 1) {
        if (returnPartial) {
          this.log?.warn({ instanceId: ids[0], err: (err as FacefleetError).toJSON?.() }, `could not ${op} instance`);
          return [];
        }
        throw new FleetPartialFailureError(`could not ${op} ${ids[0]}`, [{ instanceId: ids[0]!, error: err as FacefleetError }], []);
      }
    }
    const ok: string[] = [];
    const failures: Array<{ instanceId: string; error: FacefleetError }> = [];
    for (const id of ids) {
      try {
        await this.call(`${op} instance ${id}`, () => send([id]));
        ok.push(id);
      } catch (err) {
        const code = awsErrorCode((err as { cause?: unknown }).cause);
        if (code && tolerated.includes(code)) ok.push(id);
        else failures.push({ instanceId: id, error: err as FacefleetError });
      }
    }
    if (failures.length > 0) {
      this.log?.warn({ op, failed: failures.map((f) => ({ instanceId: f.instanceId, code: f.error.code })), succeeded: ok }, `some instances failed to ${op}`);
      if (!returnPartial) throw new FleetPartialFailureError(`${failures.length} of ${ids.length} instances failed to ${op}`, failures, ok);
    }
    return ok;
  }

  /** DescribeInstances filtered on our tags (and `ids`), every page. */
  private async describe(ids?: string[]): Promise<Ec2Instance[]> {
    const filters = [
      { Name: `tag:${TAG_PREFIX}`, Values: [this.prefix] },
      { Name: `tag:${TAG_ROLE}`, Values: [WORKER_ROLE] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
      // A filter rather than InstanceIds: an unknown id then simply matches nothing instead of
      // failing the whole call with InvalidInstanceID.NotFound.
      ...(ids ? [{ Name: 'instance-id', Values: ids }] : []),
    ];
    const out: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('describe instances', () =>
        this.ec2.send(new DescribeInstancesCommand({ Filters: filters, ...(token ? { NextToken: token } : {}), ...(ids ? {} : { MaxResults: 1000 }) })),
      );
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      token = page.NextToken;
    } while (token);
    return out;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = classifyAwsError(err, what);
      this.onCallFailure?.(e);
      throw e;
    }
  }
}

function toInstance(i: Ec2Instance, state: InstanceState): Instance {
  return {
    id: i.InstanceId!,
    state,
    launchedAt: (i.LaunchTime ?? new Date()).toISOString(),
    // The user data sets FACEFLEET_WORKER_ID to the instance id.
    workerId: i.InstanceId!,
  };
}

/**
 * The controller's fleet on AWS for `config`: mode from `config.aws.fleetMode`, launch template
 * `<prefix>-worker`, its own EC2 client (timeouts and retries from `config.aws`).
 */
export async function openEc2Fleet(config: Config, log: Logger, options: Partial<Ec2FleetOptions> = {}): Promise<Fleet> {
  const { createEc2Client } = await import('../../aws/clients.js');
  const ec2 = options.ec2 ?? createEc2Client({ region: config.aws.region, requestTimeoutMs: config.aws.requestTimeoutMs, maxAttempts: config.aws.maxAttempts });
  const fleet = new Ec2Fleet({ prefix: config.prefix, mode: config.aws.fleetMode, log: log.child({ component: 'ec2-fleet' }), ...options, ec2 });
  return {
    list: () => fleet.list(),
    launch: (count) => fleet.launch(count),
    stop: (ids) => fleet.stop(ids),
    async close() {
      await fleet.close();
      if (!options.ec2) ec2.destroy();
    },
  };
}
