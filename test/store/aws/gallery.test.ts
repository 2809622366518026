import { galleryContract } from '../../contract/gallery.contract.js';
import { DynamoGallery } from '../../../src/store/aws/dynamo-gallery.js';
import { createTables, freshNames, useEmulators } from './harness.js';

const env = useEmulators();

galleryContract('DynamoGallery on dynalite', async () => {
  const names = freshNames('gallery');
  const cleanup = await createTables(env, names, [names.galleryTable]);
  return { gallery: new DynamoGallery({ doc: env.clients.doc, table: names.galleryTable }), cleanup };
});
