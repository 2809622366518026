/** Provision step: a DynamoDB table, on-demand, with its GSIs; waits until ACTIVE. */
import { CreateTableCommand, DescribeTableCommand, UpdateTableCommand, type CreateTableCommandInput, type TableDescription } from '@aws-sdk/client-dynamodb';
import { awsCall, awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import { type ProvisionContext, type ProvisionedResource } from './provision-types.js';

export async function ensureTable(ctx: ProvisionContext, def: CreateTableCommandInput): Promise<ProvisionedResource> {
  const { dynamodb } = ctx.clients;
  const name = def.TableName!;
  const base = { kind: 'dynamodb-table' as const, name };
  const describe = () =>
    dynamodb.send(new DescribeTableCommand({ TableName: name })).then(
      (o) => o.Table,
      (err) => {
        if (awsErrorCode(err) === 'ResourceNotFoundException') return undefined;
        throw classifyAwsError(err, `describe table ${name}`);
      },
    );
  const table = await describe();
  if (!table) {
    if (ctx.dryRun) return { ...base, action: 'planned', detail: 'create, on-demand' + (def.GlobalSecondaryIndexes ? `, GSI ${def.GlobalSecondaryIndexes.map((g) => g.IndexName).join(', ')}` : '') };
    await awsCall(`create table ${name}`, () => dynamodb.send(new CreateTableCommand(def))).catch((err) => {
      // Another provision run got there first.
      if (awsErrorCode((err as { cause?: unknown }).cause) !== 'ResourceInUseException') throw err;
    });
    await waitActive(ctx, name, describe);
    return { ...base, action: 'created' };
  }
  const changes: string[] = [];
  const provisioned = table.BillingModeSummary?.BillingMode === 'PROVISIONED' || (!table.BillingModeSummary && (table.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0);
  if (provisioned) changes.push('billing PAY_PER_REQUEST');
  const missing = (def.GlobalSecondaryIndexes ?? []).filter((g) => !(table.GlobalSecondaryIndexes ?? []).some((t) => t.IndexName === g.IndexName));
  for (const g of missing) changes.push(`add GSI ${g.IndexName}`);
  if (changes.length === 0) return { ...base, action: 'unchanged' };
  if (ctx.dryRun) return { ...base, action: 'planned', detail: changes.join(', ') };
  if (provisioned) {
    await awsCall(`update table ${name}`, () => dynamodb.send(new UpdateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST' })));
    await waitActive(ctx, name, describe);
  }
  // DynamoDB takes one GSI change per UpdateTable call.
  for (const g of missing) {
    await awsCall(`add index ${g.IndexName} to ${name}`, () =>
      dynamodb.send(
        new UpdateTableCommand({
          TableName: name,
          AttributeDefinitions: def.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [{ Create: { IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection } }],
        }),
      ),
    );
    await waitActive(ctx, name, describe);
  }
  return { ...base, action: 'updated', detail: changes.join(', ') };
}

async function waitActive(ctx: ProvisionContext, name: string, describe: () => Promise<TableDescription | undefined>): Promise<void> {
  const deadline = Date.now() + (ctx.tableWaitMs ?? 120_000);
  for (;;) {
    const t = await describe();
    if (t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE' || g.IndexStatus === undefined)) return;
    if (Date.now() > deadline) throw classifyAwsError(new Error(`table ${name} is not ACTIVE yet`), `wait for table ${name}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
