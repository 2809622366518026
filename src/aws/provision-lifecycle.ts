/**
 * Provision step: the bucket's S3 lifecycle rules, where a rule can tell what may go.
 *
 * - `facefleet-finished-inputs`: objects under `inputs/` tagged `facefleet-finished=done` (a job
 *   that ended done; see `S3BlobStore.markFinished`) expire `ceil(input retention in days)` days
 *   after upload, at least 1. A dead-lettered job's input is never tagged, so it stays for a
 *   replay. S3 counts whole days from the object's creation and runs once a day, so the rule is
 *   a backstop; the retention sweep stays the precise mechanism (and the only one below a day).
 * - `facefleet-searches`: the blobs of a "seen before?" search (`searches/<id>/...`) expire after
 *   a day. The web tier deletes them once it has the answer; a worker that answers after the web
 *   tier gave up, or a web tier that died mid-request, leaves them behind.
 * - `facefleet-abort-multipart`: incomplete multipart uploads are aborted after a day (facefleet
 *   sends single PUTs; an interrupted upload by other tools would otherwise be billed for good).
 *
 * Job records, faces' thumbnails and dead-lettered inputs are not age-based, so they stay with
 * the sweeper and with the deletes. The rules are merged by ID into the bucket's configuration:
 * rules the operator added are kept, ours are set to the wanted shape.
 */
import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand, type LifecycleRule } from '@aws-sdk/client-s3';
import { awsCall, awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { FINISHED_TAG } from '../store/aws/s3-blob-store.js';
import type { ProvisionContext, ProvisionedResource } from './provision-types.js';

/** The IDs of the rules provision owns; any other rule in the bucket is the operator's. */
export const LIFECYCLE_RULE_IDS = ['facefleet-finished-inputs', 'facefleet-searches', 'facefleet-abort-multipart'] as const;

const DAY_SECONDS = 86_400;

/** The rules for an input retention of `inputRetentionSeconds` (default 24 h). */
export function lifecycleRules(inputRetentionSeconds = DAY_SECONDS): LifecycleRule[] {
  // S3's granularity is a day; 0 ("at once") is the sweeper's job, the rule still cleans up a day on.
  const days = Math.max(1, Math.ceil(inputRetentionSeconds / DAY_SECONDS));
  return [
    {
      ID: 'facefleet-finished-inputs',
      Status: 'Enabled',
      Filter: { And: { Prefix: 'inputs/', Tags: [{ ...FINISHED_TAG }] } },
      Expiration: { Days: days },
    },
    { ID: 'facefleet-searches', Status: 'Enabled', Filter: { Prefix: 'searches/' }, Expiration: { Days: 1 } },
    { ID: 'facefleet-abort-multipart', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
  ];
}

/** The fields of a rule that provision sets, in a fixed order, for comparing. */
function shape(rule: LifecycleRule): string {
  const f = rule.Filter;
  return JSON.stringify({
    ID: rule.ID,
    Status: rule.Status,
    Prefix: f?.Prefix ?? f?.And?.Prefix ?? '',
    Tags: (f?.Tag ? [f.Tag] : (f?.And?.Tags ?? [])).map((t) => `${t.Key}=${t.Value}`),
    Expiration: rule.Expiration?.Days ?? null,
    Abort: rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? null,
  });
}

export async function ensureLifecycleRules(ctx: ProvisionContext, bucketCreated: boolean): Promise<ProvisionedResource> {
  const { s3 } = ctx.clients;
  const Bucket = ctx.names.bucket;
  const base = { kind: 's3-lifecycle' as const, name: Bucket };
  const wanted = lifecycleRules(ctx.inputRetentionSeconds);
  if (bucketCreated && ctx.dryRun) return { ...base, action: 'planned', detail: `add ${wanted.map((r) => r.ID).join(', ')}` };
  const current = bucketCreated
    ? []
    : await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })).then(
        (o) => o.Rules,
        (err) => {
          if (awsErrorCode(err) === 'NoSuchLifecycleConfiguration') return [];
          throw classifyAwsError(err, `get lifecycle rules of ${Bucket}`);
        },
      );
  // An emulator that accepts but does not keep lifecycle rules answers without `Rules` (S3
  // itself answers NoSuchLifecycleConfiguration): nothing to compare, so leave it as it is.
  if (current === undefined) return { ...base, action: 'unchanged', detail: 'the endpoint does not report lifecycle rules' };
  const byId = new Map(current.map((r) => [r.ID ?? '', r]));
  const changed = wanted.filter((r) => !byId.has(r.ID!) || shape(byId.get(r.ID!)!) !== shape(r)).map((r) => r.ID!);
  if (changed.length === 0) return { ...base, action: 'unchanged' };
  const added = changed.filter((id) => !byId.has(id));
  const detail = [added.length ? `add ${added.join(', ')}` : '', changed.length > added.length ? `update ${changed.filter((id) => byId.has(id)).join(', ')}` : '']
    .filter(Boolean)
    .join('; ');
  if (ctx.dryRun) return { ...base, action: 'planned', detail };
  const own = new Set<string>(LIFECYCLE_RULE_IDS);
  // The operator's rules first, as they were; then ours. One PUT replaces the whole configuration.
  const Rules = [...current.filter((r) => !own.has(r.ID ?? '')), ...wanted];
  await awsCall(`put lifecycle rules on ${Bucket}`, () => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } })));
  return { ...base, action: current.length === 0 || bucketCreated ? 'created' : 'updated', detail };
}
