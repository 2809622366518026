import { keyStoreContract } from '../../contract/key-store.contract.js';
import { workerRegistryContract } from '../../contract/worker-registry.contract.js';
import { DynamoKeyStore } from '../../../src/store/aws/dynamo-key-store.js';
import { DynamoWorkerRegistry } from '../../../src/store/aws/dynamo-worker-registry.js';
import { createTables, freshNames, useEmulators } from './harness.js';

const env = useEmulators();

keyStoreContract('DynamoKeyStore on dynalite', async () => {
  const names = freshNames('keys');
  const cleanup = await createTables(env, names, [names.keysTable]);
  return { keys: new DynamoKeyStore({ doc: env.clients.doc, table: names.keysTable }), cleanup };
});

workerRegistryContract('DynamoWorkerRegistry on dynalite', async () => {
  const names = freshNames('workers');
  const cleanup = await createTables(env, names, [names.workersTable]);
  return { registry: new DynamoWorkerRegistry({ doc: env.clients.doc, table: names.workersTable }), cleanup };
});
