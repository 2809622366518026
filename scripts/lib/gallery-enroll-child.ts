/**
 * Another process that enrolls one face for `bench:gallery`:
 * `node --import tsx scripts/lib/gallery-enroll-child.ts <dataDir> <collection> <identity> [value]`.
 * Adds a face whose descriptor is `value` (default 0.9) in every dimension and prints the epoch ms of the commit.
 */
import { openLocalStores } from '../../src/store/local/index.js';

const [dataDir, collection, identity, value = '0.9'] = process.argv.slice(2);
if (!dataDir || !collection || !identity) throw new Error('usage: gallery-enroll-child.ts <dataDir> <collection> <identity>');
const stores = openLocalStores({ dataDir });
await stores.gallery.in(collection).addFace(identity, { descriptor: new Float32Array(128).fill(Number(value)) });
process.stdout.write(`${Date.now()}\n`);
await stores.close();
