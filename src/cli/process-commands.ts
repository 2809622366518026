/**
 * The flags of the long-running processes, `web`, `controller` and `up` (all of it on one
 * machine; each runs from `src/processes/`), plus `status`, `provision` and `teardown`.
 */
import os from 'node:os';
import readline from 'node:readline/promises';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { LaunchTemplateOptions } from '../aws/provision-types.js';
import { CONTROLLER_STATUS_KEY } from '../processes/controller.js';
import { openServices } from '../services.js';
import { JOB_STATES } from '../jobs/types.js';
import { addGlobalOptions, configFrom, loggerFor, parseNumber, PIPELINE_OPTION, ENGINE_BACKEND_OPTION } from './options.js';

function webOptions(cmd: Command): Command {
  return cmd
    .option('--host <host>', 'address to bind (env FACEFLEET_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (env FACEFLEET_PORT, default 8000; 0 picks a free one)', parseNumber('--port', { integer: true, min: 0, max: 65535 }))
    .option('--auth <on|off>', 'require API keys (default: on unless bound to loopback)');
}

function fleetOptions(cmd: Command): Command {
  return cmd
    .option('--min-workers <n>', 'fewest workers (default 0: scale to zero; `up` keeps 1 warm on the local backend)', parseNumber('--min-workers', { integer: true, min: 0 }))
    .option('--max-workers <n>', 'most workers (default 15; `up` defaults to the CPU cores)', parseNumber('--max-workers', { integer: true, min: 1 }))
    .option('--idle-seconds <s>', 'scale in after the queue has been empty this long (default 30)', parseNumber('--idle-seconds', { min: 0 }))
    .option('--interval <s>', 'controller tick in seconds (default 5)', parseNumber('--interval', { min: 0.1 }))
    .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION);
}

/**
 * `facefleet up`'s config: at most one worker per CPU core, and on the local backend one worker
 * kept warm (`--min-workers 1`), so a lone user's request does not wait for a worker to boot.
 * On AWS an idle instance costs money: there the floor stays 0. `--workers n` fixes the pool.
 */
export function upConfig(opts: Record<string, unknown>): Config {
  const flags = { ...opts };
  if (flags.workers !== undefined) {
    flags.minWorkers ??= flags.workers;
    flags.maxWorkers ??= flags.workers;
  }
  const defaults = { maxWorkers: Math.max(1, os.availableParallelism()) };
  const config = configFrom(flags, defaults);
  return config.backend === 'local' ? configFrom(flags, { ...defaults, minWorkers: 1 }) : config;
}

/**
 * The worker launch template `provision` asks for, from its own flags and the config. A pipeline
 * other than the default goes into the workers' environment: every worker must run the pipeline
 * the gallery was enrolled with.
 */
export function launchTemplateFromFlags(
  flags: { instanceType?: unknown; ami?: unknown; instanceProfile?: unknown; securityGroup?: unknown; packageSpec?: unknown; tarball?: unknown },
  config: Config,
): LaunchTemplateOptions {
  const { instanceType, ami, instanceProfile, securityGroup, packageSpec, tarball } = flags;
  if (packageSpec && tarball) throw new ConfigError('give --package or --tarball, not both');
  return {
    ...(instanceType ? { instanceType: String(instanceType) } : {}),
    ...(ami ? { imageId: String(ami) } : {}),
    ...(instanceProfile ? { instanceProfileName: String(instanceProfile) } : {}),
    ...(securityGroup ? { securityGroupIds: String(securityGroup).split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(packageSpec ? { package: { kind: 'spec' as const, spec: String(packageSpec) } } : {}),
    ...(tarball ? { package: { kind: 'tarball' as const, path: String(tarball) } } : {}),
    ...(config.recognition.pipeline !== 'standard' ? { env: { FACEFLEET_PIPELINE: config.recognition.pipeline } } : {}),
  };
}

export function registerProcessCommands(program: Command): void {
  addGlobalOptions(
    fleetOptions(webOptions(program.command('up').description('run everything on this machine: web tier, controller and an autoscaled fleet of worker processes')))
      .option('--workers <n>', 'a fixed pool of n workers (sets --min-workers and --max-workers to n)', parseNumber('--workers', { integer: true, min: 1 })),
  ).action(async (opts) => {
    const { runUp } = await import('../processes/up.js');
    await runUp(upConfig(opts));
  });

  addGlobalOptions(
    webOptions(program.command('web').description('run the web tier only')).option(
      '--web-processes <n>',
      'web processes sharing the port (node:cluster; default 1): use more cores for uploads',
      parseNumber('--web-processes', { integer: true, min: 1, max: 64 }),
    ),
  ).action(async (opts) => {
    const { webProcesses = 1, ...rest } = opts;
    const { runWeb } = await import('../processes/web.js');
    await runWeb(configFrom(rest), { webProcesses });
  });

  addGlobalOptions(fleetOptions(program.command('controller').description('run the controller only: autoscale the worker fleet from the queue'))).action(async (opts) => {
    const { runController } = await import('../processes/controller.js');
    await runController(configFrom(opts));
  });

  addGlobalOptions(program.command('status').description('queue, jobs, workers and the controller state').option('--json', 'JSON output')).action(async (opts) => {
    const config = configFrom(opts, { logLevel: 'warn' });
    const services = await openServices(config, loggerFor(config));
    try {
      const [depth, deadLetters, counts, workers, controller] = await Promise.all([
        services.queue.depth(),
        services.queue.deadLetterDepth(),
        services.jobs.countByState(),
        services.registry.list(),
        services.blobs
          .get(CONTROLLER_STATUS_KEY)
          .then((b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>)
          .catch(() => null),
      ]);
      const status = { queue: { ...depth, deadLetters }, jobs: counts, workers, controller };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(status)}\n`);
        return;
      }
      const out = (s: string) => process.stdout.write(`${s}\n`);
      out(`queue: ${depth.visible} waiting, ${depth.inFlight} in flight, ${depth.delayed} delayed; ${deadLetters} in the dead-letter queue`);
      out(`jobs: ${JOB_STATES.map((s) => `${s} ${counts[s]}`).join(', ')}`);
      out(`workers: ${workers.length} reporting (${workers.filter((w) => w.busy).length} busy)`);
      if (controller) {
        out(`controller: ${String(controller.scalerState)}, desired ${String(controller.desired)}, running ${String(controller.running)}, breaker ${JSON.stringify(controller.breaker)} (as of ${String(controller.at)})`);
      } else {
        out('controller: no status published (is `facefleet up` or `facefleet controller` running?)');
      }
    } finally {
      await services.close();
    }
  });

  addGlobalOptions(
    program
      .command('provision')
      .description('create or check every AWS resource for --prefix (idempotent: a second run reports "Nothing to change")')
      .option('--dry-run', 'print the plan, change nothing')
      .option('--print-iam', 'print least-privilege IAM policies for the web, worker and controller roles')
      .option('--account-id <id>', 'account id for the ARNs in --print-iam (default *)')
      .option('--region <region>', 'AWS region (default: AWS_REGION, else us-east-1)')
      .option('--no-ec2', 'skip the worker launch template (for the local emulators, which have no EC2)')
      .option('--instance-type <type>', 'worker instance type (default t3.medium)')
      .option('--ami <id>', 'worker AMI id, or resolve:ssm:NAME (default: latest Amazon Linux 2023 x86_64)')
      .option('--instance-profile <name>', 'worker instance profile (default <prefix>-worker)')
      .option('--security-group <ids>', 'worker security groups, comma-separated (sg-1,sg-2)')
      .option('--package <spec>', 'what workers install with npm, as given: a name, a URL or s3://bucket/facefleet-x.y.z.tgz (default: npm pack of this checkout, uploaded to the bucket and hash-checked)')
      .option('--tarball <file>', 'upload this tarball (from npm pack) for the workers instead of packing this checkout; hash-checked like it')
      .option('--visibility <s>', 'queue visibility timeout in seconds (env FACEFLEET_VISIBILITY, default 30)', parseNumber('--visibility', { integer: true, min: 0, max: 43_200 }))
      .option('--max-receives <n>', 'deliveries before a message is dead-lettered (env FACEFLEET_MAX_RECEIVES, default 3)', parseNumber('--max-receives', { integer: true, min: 1, max: 1000 }))
      .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION),
  ).action(async (opts) => {
    // Only the options loadConfig knows (visibility, maxReceives, prefix...) reach it; the
    // launch-template ones are this command's own.
    const { ec2, instanceType, ami, instanceProfile, securityGroup, package: packageSpec, tarball, region, accountId, dryRun, printIam, ...rest } = opts;
    const config = configFrom({ ...rest, backend: 'aws' }, { logLevel: 'warn' });
    if (region) config.aws.region = String(region);
    const log = loggerFor(config, 'facefleet-provision');
    const { runProvisionCli } = await import('../aws/cli.js');
    await runProvisionCli({
      config,
      log,
      dryRun: Boolean(dryRun),
      printIam: Boolean(printIam),
      ec2: ec2 !== false,
      ...(accountId ? { accountId: String(accountId) } : {}),
      launchTemplate: launchTemplateFromFlags({ instanceType, ami, instanceProfile, securityGroup, packageSpec, tarball }, config),
    });
  });

  addGlobalOptions(
    program
      .command('teardown')
      .description('delete every AWS resource for --prefix, data included')
      .option('--yes', 'do not ask for confirmation')
      .option('--region <region>', 'AWS region (default: AWS_REGION, else us-east-1)')
      .option('--no-ec2', 'leave EC2 alone: no instances, no launch template (for the local emulators)'),
  ).action(async (opts) => {
    const { ec2, region, yes, ...rest } = opts;
    const config = configFrom({ ...rest, backend: 'aws' }, { logLevel: 'warn' });
    if (region) config.aws.region = String(region);
    const log = loggerFor(config, 'facefleet-teardown');
    if (!yes) {
      if (!process.stdin.isTTY) throw new Error('teardown deletes data: pass --yes to confirm when not at a terminal');
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Delete every facefleet resource with prefix "${config.prefix}" in ${config.aws.region}, data included? Type the prefix to confirm: `);
      rl.close();
      if (answer.trim() !== config.prefix) {
        process.stderr.write('not confirmed; nothing deleted\n');
        process.exitCode = 1;
        return;
      }
    }
    const { runTeardownCli } = await import('../aws/cli.js');
    await runTeardownCli({ config, log, ec2: ec2 !== false });
  });
}
