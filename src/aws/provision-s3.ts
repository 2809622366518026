/** Provision step: the S3 bucket, public access blocked, default encryption on. */
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketEncryptionCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { awsCall, awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { type ProvisionContext, type ProvisionedResource } from './provision-types.js';

export async function ensureBucket(ctx: ProvisionContext): Promise<ProvisionedResource> {
  const { s3 } = ctx.clients;
  const Bucket = ctx.names.bucket;
  const base = { kind: 's3-bucket' as const, name: Bucket };
  const exists = await s3.send(new HeadBucketCommand({ Bucket })).then(
    () => true,
    (err) => {
      if (awsErrorCode(err) === 'NotFound' || awsErrorCode(err) === 'NoSuchBucket') return false;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 403: someone else's bucket; 301: a bucket of that name lives in another region.
      if (status === 403 || status === 301) {
        throw classifyAwsError(err, `bucket ${Bucket} exists but belongs to another account (bucket names are global; choose another prefix)`);
      }
      throw classifyAwsError(err, `head bucket ${Bucket}`);
    },
  );
  const encryption = ctx.kmsKeyId
    ? { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: ctx.kmsKeyId }
    : { SSEAlgorithm: 'AES256' as const };
  const settings = async () => {
    await awsCall(`block public access on ${Bucket}`, () =>
      s3.send(
        new PutPublicAccessBlockCommand({
          Bucket,
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
        }),
      ),
    );
    await awsCall(`encrypt ${Bucket}`, () =>
      s3.send(
        new PutBucketEncryptionCommand({
          Bucket,
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: encryption, BucketKeyEnabled: !!ctx.kmsKeyId }] },
        }),
      ),
    );
  };
  if (!exists) {
    if (ctx.dryRun) return { ...base, action: 'planned', detail: 'create, block public access, default encryption' };
    await awsCall(`create bucket ${Bucket}`, () =>
      s3.send(
        new CreateBucketCommand({
          Bucket,
          // us-east-1 is the one region that refuses an explicit location constraint.
          ...(ctx.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: ctx.region as BucketLocationConstraint } } : {}),
        }),
      ),
    );
    await settings();
    return { ...base, action: 'created' };
  }
  const drift: string[] = [];
  const pab = await s3.send(new GetPublicAccessBlockCommand({ Bucket })).then(
    (o) => o.PublicAccessBlockConfiguration,
    (err) => {
      if (awsErrorCode(err) === 'NoSuchPublicAccessBlockConfiguration') return null;
      throw classifyAwsError(err, `get public access block of ${Bucket}`);
    },
  );
  // An emulator that accepts but does not keep bucket settings answers with an empty object:
  // nothing to compare, so leave it as it is.
  const pabKnown = pab && Object.keys(pab).length > 0;
  if (pab === null || (pabKnown && !(pab.BlockPublicAcls && pab.IgnorePublicAcls && pab.BlockPublicPolicy && pab.RestrictPublicBuckets))) drift.push('public access block');
  const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket })).then(
    (o) => o.ServerSideEncryptionConfiguration,
    (err) => {
      if (awsErrorCode(err) === 'ServerSideEncryptionConfigurationNotFoundError') return null;
      throw classifyAwsError(err, `get encryption of ${Bucket}`);
    },
  );
  const rule = enc?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
  if (enc === null || (enc?.Rules && (rule?.SSEAlgorithm !== encryption.SSEAlgorithm || (ctx.kmsKeyId && rule?.KMSMasterKeyID !== ctx.kmsKeyId)))) {
    drift.push('default encryption');
  }
  if (drift.length === 0) return { ...base, action: 'unchanged' };
  if (ctx.dryRun) return { ...base, action: 'planned', detail: `set ${drift.join(', ')}` };
  await settings();
  return { ...base, action: 'updated', detail: `set ${drift.join(', ')}` };
}
