/**
 * The command-line side of provision and teardown, shared by `facefleet provision|teardown`
 * and `scripts/provision.ts`: run the function, print a readable report on stdout.
 */
import type { Config } from '../config.js';
import { resourceNames } from './names.js';
import type { Logger } from '../log.js';
import type { AwsClients } from './clients.js';
import { EC2_TRUST_POLICY, iamPolicies } from './iam.js';
import { provision, type LaunchTemplateOptions, type ProvisionReport } from './provision.js';
import { teardown, type TeardownReport } from './teardown.js';

export type Print = (line: string) => void;

const stdout: Print = (line) => {
  process.stdout.write(`${line}\n`);
};

export interface ProvisionCliOptions {
  config: Config;
  log: Logger;
  dryRun?: boolean;
  printIam?: boolean;
  /** For the IAM documents' ARNs; default `*`. */
  accountId?: string;
  /** Launch template settings; default: instance profile `<prefix>-worker`. */
  launchTemplate?: LaunchTemplateOptions;
  /** False skips everything EC2 (the local emulators have none). Default true. */
  ec2?: boolean;
  clients?: AwsClients;
  out?: Print;
}

/** `--print-iam` prints the policies and changes nothing; otherwise provision (or plan) and print the report. */
export async function runProvisionCli(options: ProvisionCliOptions): Promise<ProvisionReport | undefined> {
  const out = options.out ?? stdout;
  const { config } = options;
  if (options.printIam) {
    const policies = iamPolicies({
      prefix: config.prefix,
      region: config.aws.region,
      ...(options.accountId ? { accountId: options.accountId } : {}),
      ...(config.aws.kmsKeyId?.startsWith('arn:') ? { kmsKeyArn: config.aws.kmsKeyId } : {}),
    });
    out(JSON.stringify({ ...policies, ec2TrustPolicy: EC2_TRUST_POLICY }, null, 2));
    return undefined;
  }
  const report = await provision({
    prefix: config.prefix,
    region: config.aws.region,
    dryRun: options.dryRun ?? false,
    log: options.log,
    visibilitySeconds: config.queue.visibilitySeconds,
    maxReceiveCount: config.queue.maxReceiveCount,
    inputRetentionSeconds: config.web.inputRetentionSeconds,
    ...(config.aws.kmsKeyId ? { kmsKeyId: config.aws.kmsKeyId } : {}),
    launchTemplate: options.ec2 === false ? false : { instanceProfileName: resourceNames(config.prefix).workerRole, ...options.launchTemplate },
    ...(options.clients ? { clients: options.clients } : {}),
  });
  printProvisionReport(report, out);
  return report;
}

export function printProvisionReport(report: ProvisionReport, out: Print = stdout): void {
  out(`${report.dryRun ? 'Plan' : 'Provisioned'} for prefix ${report.prefix} in ${report.region}:`);
  for (const r of report.resources) out(`  ${r.action.padEnd(9)} ${r.kind.padEnd(15)} ${r.name}${r.detail ? `  (${r.detail})` : ''}`);
  if (report.workerPackage) out(`Workers install ${report.workerPackage}.`);
  if (!report.changed) out('Nothing to change: every resource is as it should be.');
  else if (report.dryRun) out('Dry run: nothing was changed. Run again without --dry-run to apply.');
}

export async function runTeardownCli(options: { config: Config; log: Logger; clients?: AwsClients; out?: Print; ec2?: boolean }): Promise<TeardownReport> {
  const out = options.out ?? stdout;
  const report = await teardown({
    prefix: options.config.prefix,
    region: options.config.aws.region,
    // The caller (facefleet teardown, scripts/provision.ts --teardown) confirmed or got --yes.
    yes: true,
    log: options.log,
    ...(options.ec2 === false ? { ec2: false } : {}),
    ...(options.clients ? { clients: options.clients } : {}),
  });
  out(`Teardown of prefix ${report.prefix} in ${report.region}:`);
  for (const r of report.resources) out(`  ${r.action.padEnd(7)} ${r.kind.padEnd(15)} ${r.name}${r.detail ? `  (${r.detail})` : ''}`);
  return report;
}
