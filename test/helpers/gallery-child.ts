/**
 * Another process that enrolls, for the cross-process gallery tests, run as
 * `node --import tsx test/helpers/gallery-child.ts <dataDir> <collection> <identity> <seed>`.
 * Adds one face (the contract builder's descriptor for `seed`) and prints its id.
 */
import { openLocalStores } from '../../src/store/local/index.js';
import { aDescriptor } from './builders.js';

const [dataDir, collection, identity, seed] = process.argv.slice(2);
if (!dataDir || !collection || !identity || !seed) throw new Error('usage: gallery-child.ts <dataDir> <collection> <identity> <seed>');
const stores = openLocalStores({ dataDir });
const face = await stores.gallery.in(collection).addFace(identity, { descriptor: aDescriptor(Number(seed)) });
await stores.close();
process.stdout.write(`${face.id}\n`);
