/**
 * Create, check, print the IAM policies for, or delete every AWS resource of one facefleet
 * deployment. `facefleet provision|teardown` do the same through the main CLI.
 *
 *   tsx scripts/provision.ts --prefix acme-123 --region eu-west-1 [--dry-run]
 *   tsx scripts/provision.ts --prefix acme-123 --print-iam [--account-id 123456789012]
 *   tsx scripts/provision.ts --prefix acme-123 --teardown --yes
 *
 * Credentials, region and endpoints come from the standard AWS chain (AWS_PROFILE,
 * AWS_REGION, AWS_ENDPOINT_URL_S3/_SQS/_DYNAMODB/_EC2 ...). `--no-ec2` skips the launch
 * template and instances, for the local emulators.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type Flags } from '../src/config.js';
import { createLogger } from '../src/log.js';

const HELP = `usage: provision.ts [--prefix P] [--region R] [--dry-run] [--print-iam [--account-id ID]]
                    [--teardown --yes] [--no-ec2]
                    [--instance-type T] [--ami ID|resolve:ssm:NAME] [--instance-profile NAME]
                    [--security-group sg-1,sg-2] [--package SPEC]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      prefix: { type: 'string' },
      region: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'print-iam': { type: 'boolean' },
      'account-id': { type: 'string' },
      teardown: { type: 'boolean' },
      yes: { type: 'boolean' },
      'no-ec2': { type: 'boolean' },
      'instance-type': { type: 'string' },
      ami: { type: 'string' },
      'instance-profile': { type: 'string' },
      'security-group': { type: 'string' },
      package: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const flags: Flags = { backend: 'aws', logLevel: values['log-level'] ?? 'warn' };
  if (values.prefix) flags.prefix = values.prefix;
  const config = loadConfig(flags);
  if (values.region) config.aws.region = values.region;
  const log = createLogger({ level: config.logLevel, name: 'facefleet-provision' });
  const { runProvisionCli, runTeardownCli } = await import('../src/aws/cli.js');

  const ec2 = !values['no-ec2'];
  if (values.teardown) {
    if (!values.yes) {
      process.stderr.write(`teardown deletes every resource of prefix "${config.prefix}" and its data: add --yes to confirm\n`);
      return 2;
    }
    await runTeardownCli({ config, log, ec2 });
    return 0;
  }

  await runProvisionCli({
    config,
    log,
    dryRun: values['dry-run'] ?? false,
    printIam: values['print-iam'] ?? false,
    ec2,
    ...(values['account-id'] ? { accountId: values['account-id'] } : {}),
    launchTemplate: {
      ...(values['instance-type'] ? { instanceType: values['instance-type'] } : {}),
      ...(values.ami ? { imageId: values.ami } : {}),
      ...(values['instance-profile'] ? { instanceProfileName: values['instance-profile'] } : {}),
      ...(values['security-group'] ? { securityGroupIds: values['security-group'].split(',').filter(Boolean) } : {}),
      ...(values.package ? { packageSpec: values.package } : {}),
    },
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { message?: string; code?: string };
    process.stderr.write(`provision failed: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
