/** The recognition pipeline reaches every worker: the commands that start them take it, and `provision` writes it into the EC2 launch template. */
import { describe, expect, it } from 'vitest';
import { launchTemplateData } from '../../src/aws/provision.js';
import { launchTemplateFromFlags } from '../../src/cli/process-commands.js';
import { buildProgram } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config.js';

const userData = (lt: ReturnType<typeof launchTemplateFromFlags>): string =>
  Buffer.from(launchTemplateData({ prefix: 'ff', region: 'us-east-1' }, lt, { kind: 'spec', spec: 's3://b/facefleet.tgz' }).UserData!, 'base64').toString('utf8');

describe('pipeline flags', () => {
  it('puts a non-default pipeline into the EC2 workers\' environment, and leaves the default template as it was', () => {
    const ensemble = launchTemplateFromFlags({ instanceType: 'c7i.large' }, loadConfig({ pipeline: 'dlib-ensemble' }, {}));
    expect(ensemble).toEqual({ instanceType: 'c7i.large', env: { FACEFLEET_PIPELINE: 'dlib-ensemble' } });
    expect(userData(ensemble)).toContain('Environment=FACEFLEET_PIPELINE=dlib-ensemble');
    // From the environment too, as `provision` reads it.
    expect(launchTemplateFromFlags({}, loadConfig({}, { FACEFLEET_PIPELINE: 'dlib-ensemble' })).env).toEqual({ FACEFLEET_PIPELINE: 'dlib-ensemble' });
    const standard = launchTemplateFromFlags({ securityGroup: 'sg-1, sg-2', packageSpec: 's3://b/facefleet.tgz' }, loadConfig({}, {}));
    expect(standard).toEqual({ securityGroupIds: ['sg-1', 'sg-2'], package: { kind: 'spec', spec: 's3://b/facefleet.tgz' } });
    expect(userData(standard)).not.toContain('FACEFLEET_PIPELINE');
  });

  it('is an option of every command that runs the engine, or starts or provisions workers that do', () => {
    const program = buildProgram();
    for (const name of ['up', 'controller', 'worker', 'provision', 'recognize', 'verify', 'enroll']) {
      const cmd = program.commands.find((c) => c.name() === name);
      expect(cmd?.options.map((o) => o.long), name).toContain('--pipeline');
    }
  });
});
