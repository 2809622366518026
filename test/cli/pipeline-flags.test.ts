/** The recognition pipeline reaches every worker: `up`'s local fleet and `provision`'s EC2 launch template. */
import { describe, expect, it } from 'vitest';
import { launchTemplateData } from '../../src/aws/provision.js';
import { launchTemplateFromFlags } from '../../src/cli/process-commands.js';
import { configToEnv, loadConfig } from '../../src/config.js';

const userData = (lt: ReturnType<typeof launchTemplateFromFlags>): string =>
  Buffer.from(launchTemplateData({ prefix: 'ff', region: 'us-east-1' }, lt).UserData!, 'base64').toString('utf8');

describe('pipeline flags', () => {
  it('puts a non-default pipeline into the EC2 workers\' environment, and leaves the default template as it was', () => {
    const ensemble = launchTemplateFromFlags({ instanceType: 'c7i.large' }, loadConfig({ pipeline: 'dlib-ensemble' }, {}));
    expect(ensemble).toEqual({ instanceType: 'c7i.large', env: { FACEFLEET_PIPELINE: 'dlib-ensemble' } });
    expect(userData(ensemble)).toContain('Environment=FACEFLEET_PIPELINE=dlib-ensemble');
    // From the environment too, as `provision` reads it.
    expect(launchTemplateFromFlags({}, loadConfig({}, { FACEFLEET_PIPELINE: 'dlib-ensemble' })).env).toEqual({ FACEFLEET_PIPELINE: 'dlib-ensemble' });
    const standard = launchTemplateFromFlags({ securityGroup: 'sg-1, sg-2', packageSpec: 's3://b/facefleet.tgz' }, loadConfig({}, {}));
    expect(standard).toEqual({ securityGroupIds: ['sg-1', 'sg-2'], packageSpec: 's3://b/facefleet.tgz' });
    expect(userData(standard)).not.toContain('FACEFLEET_PIPELINE');
  });

  it('hands `up`\'s --pipeline to its local workers through their environment', () => {
    expect(configToEnv(loadConfig({ pipeline: 'dlib-ensemble' }, {})).FACEFLEET_PIPELINE).toBe('dlib-ensemble');
    expect(configToEnv(loadConfig({}, {})).FACEFLEET_PIPELINE).toBe('standard');
  });
});
