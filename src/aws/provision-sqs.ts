/** Provision step: an SQS queue with the wanted attributes (the DLQ, then the job queue). */
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { awsCall, awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { type ProvisionContext, type ProvisionedResource } from './provision-types.js';

export async function ensureQueue(
  ctx: ProvisionContext,
  QueueName: string,
  desired: () => Promise<Record<string, string>>,
): Promise<{ resource: ProvisionedResource; arn?: string }> {
  const { sqs } = ctx.clients;
  const base = { kind: 'sqs-queue' as const, name: QueueName };
  const url = await sqs.send(new GetQueueUrlCommand({ QueueName })).then(
    (o) => o.QueueUrl,
    (err) => {
      if (awsErrorCode(err) === 'QueueDoesNotExist' || awsErrorCode(err) === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
      throw classifyAwsError(err, `look up queue ${QueueName}`);
    },
  );
  const want = await desired();
  if (!url) {
    if (ctx.dryRun) return { resource: { ...base, action: 'planned', detail: describeAttributes(want) } };
    const created = await awsCall(`create queue ${QueueName}`, () => sqs.send(new CreateQueueCommand({ QueueName, Attributes: want })));
    const arn = await queueArn(ctx, created.QueueUrl!);
    return { resource: { ...base, action: 'created', detail: describeAttributes(want) }, arn };
  }
  const got = ((await awsCall(`get attributes of ${QueueName}`, () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })))).Attributes ?? {}) as Record<string, string>;
  const changes: Record<string, string> = {};
  for (const [k, v] of Object.entries(want)) {
    // An attribute the endpoint does not report (an emulator without SSE) cannot be compared.
    if (got[k] === undefined && k === 'SqsManagedSseEnabled') continue;
    const same = k === 'RedrivePolicy' ? sameRedrive(got[k], v) : got[k] === v;
    if (!same) changes[k] = v;
  }
  const arn = got.QueueArn;
  if (Object.keys(changes).length === 0) return { resource: { ...base, action: 'unchanged' }, arn };
  const detail = `set ${describeAttributes(changes)}`;
  if (ctx.dryRun) return { resource: { ...base, action: 'planned', detail }, arn };
  await awsCall(`set attributes of ${QueueName}`, () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: changes })));
  return { resource: { ...base, action: 'updated', detail }, arn };
}

async function queueArn(ctx: ProvisionContext, url: string): Promise<string | undefined> {
  const out = await awsCall('get queue arn', () => ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })));
  return out.Attributes?.QueueArn;
}

function sameRedrive(got: string | undefined, want: string): boolean {
  if (!got) return false;
  try {
    const a = JSON.parse(got) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
    const b = JSON.parse(want) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
    return a.deadLetterTargetArn === b.deadLetterTargetArn && Number(a.maxReceiveCount) === Number(b.maxReceiveCount);
  } catch {
    return false;
  }
}

function describeAttributes(attrs: Record<string, string>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}
