import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand, S3Client, S3ServiceException, type LifecycleRule } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import { resourceNames } from '../../src/aws/names.js';
import { ensureLifecycleRules, lifecycleRules } from '../../src/aws/provision-lifecycle.js';
import type { ProvisionContext } from '../../src/aws/provision-types.js';
import { silentLogger } from '../../src/log.js';

// fauxqs accepts PutBucketLifecycleConfiguration but does not keep the rules, so S3 is mocked here.
const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const mock = mockClient(s3);
/** The fake bucket's lifecycle configuration; null: none (S3 answers NoSuchLifecycleConfiguration). */
let stored: LifecycleRule[] | null;

const ctx = (over: Partial<ProvisionContext> = {}): ProvisionContext => ({
  prefix: 'lcy',
  region: 'eu-west-1',
  log: silentLogger(),
  dryRun: false,
  names: resourceNames('lcy'),
  clients: { s3 } as unknown as AwsClients,
  ...over,
});

const operatorRule: LifecycleRule = { ID: 'operator-logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 90 } };

beforeEach(() => {
  stored = null;
  mock.reset();
  mock.on(GetBucketLifecycleConfigurationCommand).callsFake(async () => {
    if (stored === null) throw new S3ServiceException({ name: 'NoSuchLifecycleConfiguration', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'none' });
    return { Rules: structuredClone(stored) };
  });
  mock.on(PutBucketLifecycleConfigurationCommand).callsFake(async (input: { LifecycleConfiguration: { Rules: LifecycleRule[] } }) => {
    stored = structuredClone(input.LifecycleConfiguration.Rules);
    return {};
  });
});

afterAll(() => mock.restore());

const ids = () => (stored ?? []).map((r) => r.ID);

describe('provision: S3 lifecycle rules', () => {
  it('expires tagged finished inputs after the input retention in whole days, search blobs after a day, and aborts stale multipart uploads', () => {
    const [inputs, searches, multipart] = lifecycleRules(36 * 3600);
    expect(inputs).toMatchObject({ Filter: { And: { Prefix: 'inputs/', Tags: [{ Key: 'facefleet-finished', Value: 'done' }] } }, Expiration: { Days: 2 } });
    expect(searches).toMatchObject({ Filter: { Prefix: 'searches/' }, Expiration: { Days: 1 } });
    expect(multipart).toMatchObject({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } });
    // Below a day (0 included) the sweeper is the mechanism; the rule still sweeps up a day on.
    expect(lifecycleRules(0)[0]!.Expiration!.Days).toBe(1);
    expect(lifecycleRules(3600)[0]!.Expiration!.Days).toBe(1);
    expect(lifecycleRules(7 * 86_400)[0]!.Expiration!.Days).toBe(7);
  });

  it('creates the rules on a bucket without any (NoSuchLifecycleConfiguration), and a re-run keeps them unchanged', async () => {
    expect(await ensureLifecycleRules(ctx(), false)).toMatchObject({ kind: 's3-lifecycle', action: 'created' });
    expect(ids()).toEqual(['facefleet-finished-inputs', 'facefleet-searches', 'facefleet-abort-multipart']);
    const again = await ensureLifecycleRules(ctx(), false);
    expect(again.action).toBe('unchanged');
    expect(mock.commandCalls(PutBucketLifecycleConfigurationCommand)).toHaveLength(1);
    expect(ids()).toHaveLength(3);
  });

  it("keeps the operator's own rules, on the first run and on re-runs, and corrects only its own", async () => {
    stored = [operatorRule];
    expect((await ensureLifecycleRules(ctx(), false)).action).toBe('updated');
    expect(stored).toContainEqual(operatorRule);
    expect(ids()).toHaveLength(4);

    // The input retention went up to 3 days: only that rule changes, the operator's stays.
    const plan = await ensureLifecycleRules(ctx({ inputRetentionSeconds: 3 * 86_400, dryRun: true }), false);
    expect(plan).toMatchObject({ action: 'planned', detail: 'update facefleet-finished-inputs' });
    expect(mock.commandCalls(PutBucketLifecycleConfigurationCommand)).toHaveLength(1);
    expect(await ensureLifecycleRules(ctx({ inputRetentionSeconds: 3 * 86_400 }), false)).toMatchObject({ action: 'updated', detail: 'update facefleet-finished-inputs' });
    expect(stored!.find((r) => r.ID === 'facefleet-finished-inputs')!.Expiration!.Days).toBe(3);
    expect(stored).toContainEqual(operatorRule);

    // Someone deleted one of ours: it comes back, nothing else moves.
    stored = stored!.filter((r) => r.ID !== 'facefleet-searches');
    expect(await ensureLifecycleRules(ctx({ inputRetentionSeconds: 3 * 86_400 }), false)).toMatchObject({ action: 'updated', detail: 'add facefleet-searches' });
    expect(ids().sort()).toEqual(['facefleet-abort-multipart', 'facefleet-finished-inputs', 'facefleet-searches', 'operator-logs']);
    expect((await ensureLifecycleRules(ctx({ inputRetentionSeconds: 3 * 86_400 }), false)).action).toBe('unchanged');
  });

  it('puts the rules on a bucket it just made without reading first, and only plans on a dry run', async () => {
    expect((await ensureLifecycleRules(ctx({ dryRun: true }), true)).action).toBe('planned');
    expect(mock.calls()).toHaveLength(0);
    expect((await ensureLifecycleRules(ctx(), true)).action).toBe('created');
    expect(mock.commandCalls(GetBucketLifecycleConfigurationCommand)).toHaveLength(0);
    expect(ids()).toHaveLength(3);
  });

  it('passes other errors on', async () => {
    mock.on(GetBucketLifecycleConfigurationCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'no' }));
    await expect(ensureLifecycleRules(ctx(), false)).rejects.toThrow(/lifecycle rules/);
  });
});
