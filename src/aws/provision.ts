/**
 * Create or check every AWS resource facefleet needs for one prefix. Idempotent: each resource
 * is described first and only created or corrected when it differs, so a second run reports
 * every resource `unchanged`. With `dryRun` nothing is written and changes come back `planned`.
 */
import { createAwsClients } from './clients.js';
import { resourceNames } from './names.js';
import { ensureBucket } from './provision-s3.js';
import { ensureLifecycleRules } from './provision-lifecycle.js';
import { ensureQueue } from './provision-sqs.js';
import { ensureTable } from './provision-dynamodb.js';
import { ensureLaunchTemplate } from './provision-ec2.js';
import { ensureRelease } from './provision-release.js';
import { deadLetterQueueAttributes, queueAttributes, tableDefinitions } from './resources.js';
import type { ProvisionedResource, ProvisionOptions, ProvisionReport } from './provision-types.js';

export type { LaunchTemplateOptions, ProvisionAction, ProvisionedResource, ProvisionOptions, ProvisionReport, WorkerPackage } from './provision-types.js';
export type { WorkerInstall } from './user-data.js';
export { DEFAULT_WORKER_AMI, launchTemplateData } from './provision-ec2.js';

/** Create or check every resource for `prefix`; see the module comment. */
export async function provision(options: ProvisionOptions): Promise<ProvisionReport> {
  const names = resourceNames(options.prefix);
  const clients = options.clients ?? createAwsClients({ region: options.region });
  const ctx = { ...options, dryRun: options.dryRun ?? false, names, clients };
  try {
    const resources: ProvisionedResource[] = [];
    const add = (r: ProvisionedResource) => {
      options.log.info({ resource: r.name, kind: r.kind, action: r.action, detail: r.detail }, `${r.kind} ${r.name}: ${r.action}`);
      resources.push(r);
    };
    const bucket = await ensureBucket(ctx);
    add(bucket);
    // A bucket made just now (or, in a dry run, to be made) has no rules to read.
    add(await ensureLifecycleRules(ctx, bucket.action === 'created' || (bucket.action === 'planned' && !!bucket.detail?.startsWith('create'))));
    const dlq = await ensureQueue(ctx, names.deadLetterQueue, () => Promise.resolve(deadLetterQueueAttributes()));
    add(dlq.resource);
    const main = await ensureQueue(ctx, names.queue, async () =>
      queueAttributes({
        visibilitySeconds: options.visibilitySeconds ?? 30,
        maxReceiveCount: options.maxReceiveCount ?? 3,
        // In a dry run a missing DLQ has no ARN yet; show the one it will get.
        deadLetterArn: dlq.arn ?? `arn:aws:sqs:${options.region}:<account>:${names.deadLetterQueue}`,
      }),
    );
    add(main.resource);
    for (const table of tableDefinitions(names)) add(await ensureTable(ctx, table));
    let workerPackage: string | undefined;
    if (options.launchTemplate !== false) {
      const lt = options.launchTemplate ?? {};
      const release = await ensureRelease(ctx, lt.package);
      if (release.resource) add(release.resource);
      workerPackage = release.describe;
      options.log.info({ workerPackage }, `workers install ${workerPackage}`);
      add(await ensureLaunchTemplate(ctx, lt, release.install));
    }
    return {
      prefix: options.prefix,
      region: options.region,
      dryRun: ctx.dryRun,
      resources,
      changed: resources.some((r) => r.action !== 'unchanged'),
      ...(workerPackage ? { workerPackage } : {}),
    };
  } finally {
    if (!options.clients) clients.destroy();
  }
}
