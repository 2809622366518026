/**
 * Create, check, print the IAM policies for, or delete every AWS resource of one facefleet
 * deployment: a thin wrapper over `facefleet provision` and `facefleet teardown`, which take
 * the same flags (`--help` lists them).
 *
 *   tsx scripts/provision.ts --prefix acme-123 --region eu-west-1 [--dry-run]
 *   tsx scripts/provision.ts --prefix acme-123 --print-iam [--account-id 123456789012]
 *   tsx scripts/provision.ts --prefix acme-123 --teardown --yes
 *
 * Credentials, region and endpoints come from the standard AWS chain (AWS_PROFILE,
 * AWS_REGION, AWS_ENDPOINT_URL_S3/_SQS/_DYNAMODB/_EC2 ...). `--no-ec2` skips the launch
 * template and instances, for the local emulators.
 */
import { runCli } from '../src/cli/program.js';

const [node = 'node', script = 'provision.ts', ...args] = process.argv;
const teardown = args.includes('--teardown');
const rest = args.filter((a) => a !== '--teardown');
await runCli([node, script, teardown ? 'teardown' : 'provision', ...rest]);
