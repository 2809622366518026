import { blobStoreContract } from '../../contract/blob-store.contract.js';
import { S3BlobStore } from '../../../src/store/aws/s3-blob-store.js';
import { createBucket, freshNames, useEmulators } from './harness.js';

const env = useEmulators();

blobStoreContract('S3BlobStore on fauxqs', async () => {
  const names = freshNames('blob');
  const cleanup = await createBucket(env, names);
  return { blobs: new S3BlobStore({ s3: env.clients.s3, bucket: names.bucket }), cleanup };
});
