/** Provision step: the worker launch template (a new default version when it drifted). */
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { awsCall, awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { workerName, TAG_PREFIX, TAG_ROLE, WORKER_ROLE } from './names.js';
import { type LaunchTemplateOptions, type ProvisionContext, type ProvisionOptions, type ProvisionedResource } from './provision-types.js';
import { workerUserData, type WorkerInstall } from './user-data.js';

export const DEFAULT_WORKER_AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/** The launch template data provision wants, for workers that install `install`; exported for tests and `--dry-run` output. */
export function launchTemplateData(
  ctx: Pick<ProvisionOptions, 'prefix' | 'region' | 'visibilitySeconds' | 'maxReceiveCount'>,
  lt: LaunchTemplateOptions,
  install: WorkerInstall,
): RequestLaunchTemplateData {
  const env: Record<string, string> = {
    ...(ctx.visibilitySeconds !== undefined ? { FACEFLEET_VISIBILITY: String(ctx.visibilitySeconds) } : {}),
    ...(ctx.maxReceiveCount !== undefined ? { FACEFLEET_MAX_RECEIVES: String(ctx.maxReceiveCount) } : {}),
    ...lt.env,
  };
  const userData = workerUserData({ prefix: ctx.prefix, region: ctx.region, env, install });
  return {
    ImageId: lt.imageId ?? DEFAULT_WORKER_AMI,
    InstanceType: (lt.instanceType ?? 't3.medium') as RequestLaunchTemplateData['InstanceType'],
    UserData: Buffer.from(userData, 'utf8').toString('base64'),
    ...(lt.instanceProfileName ? { IamInstanceProfile: { Name: lt.instanceProfileName } } : {}),
    ...(lt.securityGroupIds?.length ? { SecurityGroupIds: lt.securityGroupIds } : {}),
    // A retired worker powers its instance off; in this mode that ends the instance.
    InstanceInitiatedShutdownBehavior: 'terminate',
    // IMDSv2 only: the worker's credentials come from the instance role.
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
    TagSpecifications: [
      {
        ResourceType: 'instance',
        Tags: [
          { Key: TAG_PREFIX, Value: ctx.prefix },
          { Key: TAG_ROLE, Value: WORKER_ROLE },
          { Key: 'Name', Value: workerName(ctx.prefix) },
        ],
      },
    ],
  };
}

export async function ensureLaunchTemplate(ctx: ProvisionContext, lt: LaunchTemplateOptions, install: WorkerInstall): Promise<ProvisionedResource> {
  const { ec2 } = ctx.clients;
  const name = ctx.names.launchTemplate;
  const base = { kind: 'launch-template' as const, name };
  const want = launchTemplateData(ctx, lt, install);
  const latest = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: name, Versions: ['$Latest'] })).then(
    (o) => o.LaunchTemplateVersions?.[0],
    (err) => {
      const code = awsErrorCode(err);
      if (code === 'InvalidLaunchTemplateName.NotFoundException' || code === 'InvalidLaunchTemplateId.NotFound') return undefined;
      throw classifyAwsError(err, `describe launch template ${name}`);
    },
  );
  if (!latest) {
    if (ctx.dryRun) return { ...base, action: 'planned', detail: `create (${want.InstanceType}, ${want.ImageId})` };
    await awsCall(`create launch template ${name}`, () =>
      ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: name,
          LaunchTemplateData: want,
          VersionDescription: 'facefleet provision',
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: TAG_PREFIX, Value: ctx.prefix }] }],
        }),
      ),
    );
    return { ...base, action: 'created' };
  }
  const diff = differences(want, latest.LaunchTemplateData ?? {});
  if (diff.length === 0) return { ...base, action: 'unchanged' };
  const detail = `new version: ${diff.join(', ')}`;
  if (ctx.dryRun) return { ...base, action: 'planned', detail };
  const created = await awsCall(`update launch template ${name}`, () =>
    ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: name, LaunchTemplateData: want, VersionDescription: 'facefleet provision' })),
  );
  const version = created.LaunchTemplateVersion?.VersionNumber;
  if (version !== undefined) {
    await awsCall(`set default version of ${name}`, () => ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateName: name, DefaultVersion: String(version) })));
  }
  return { ...base, action: 'updated', detail };
}

/** Top-level fields of `want` that `got` does not match (only the keys `want` sets count). */
function differences(want: object, got: object): string[] {
  const covers = (w: unknown, g: unknown): boolean => {
    if (Array.isArray(w)) {
      if (!Array.isArray(g) || w.length !== g.length) return false;
      // Tag lists may come back in another order.
      const byKey = (a: unknown[]) => (a.every((x) => x && typeof x === 'object' && 'Key' in x) ? [...a].sort((x, y) => String((x as { Key: string }).Key).localeCompare(String((y as { Key: string }).Key))) : a);
      const [ws, gs] = [byKey(w), byKey(g)];
      return ws.every((x, i) => covers(x, gs[i]));
    }
    if (w && typeof w === 'object') return !!g && typeof g === 'object' && Object.entries(w).every(([k, v]) => covers(v, (g as Record<string, unknown>)[k]));
    return w === g;
  };
  return Object.entries(want)
    .filter(([k, v]) => !covers(v, (got as Record<string, unknown>)[k]))
    .map(([k]) => k);
}
