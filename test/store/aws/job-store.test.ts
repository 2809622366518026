import { jobStoreContract } from '../../contract/job-store.contract.js';
import { DynamoJobStore } from '../../../src/store/aws/dynamo-job-store.js';
import { S3BlobStore } from '../../../src/store/aws/s3-blob-store.js';
import { createBucket, createTables, freshNames, useEmulators } from './harness.js';

const env = useEmulators();

jobStoreContract('DynamoJobStore on dynalite', async () => {
  const names = freshNames('jobs');
  const dropTables = await createTables(env, names, [names.jobsTable]);
  const dropBucket = await createBucket(env, names);
  const blobs = new S3BlobStore({ s3: env.clients.s3, bucket: names.bucket });
  const jobs = new DynamoJobStore({ doc: env.clients.doc, table: names.jobsTable, stateIndex: names.jobsStateIndex, blobs });
  return {
    jobs,
    cleanup: async () => {
      await dropTables();
      await dropBucket();
    },
  };
});
