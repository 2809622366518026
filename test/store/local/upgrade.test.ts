import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalStores, type LocalStores } from '../../../src/store/local/index.js';
import { descriptorToBlob } from '../../../src/store/local/gallery.js';
import { MIGRATIONS } from '../../../src/store/local/schema.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/data-dir-0.1.0');

interface Expected {
  schemaVersion: number;
  identities: { name: string; createdAt: string }[];
  faces: { id: string; identity: string; source: string; pipeline: string; createdAt: string; descriptorSha256: string }[];
}

describe('upgrading a data dir written by release 0.1.0', () => {
  let dir: string;
  let stores: LocalStores | undefined;
  let expected: Expected;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-upgrade-'));
    await fs.copyFile(path.join(FIXTURE, 'facefleet.db'), path.join(dir, 'facefleet.db'));
    expected = JSON.parse(await fs.readFile(path.join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
  });
  afterEach(async () => {
    await stores?.close();
    stores = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is a real old data dir: an older schema than this release', () => {
    const db = new Database(path.join(dir, 'facefleet.db'), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(expected.schemaVersion);
      expect(expected.schemaVersion).toBeLessThan(MIGRATIONS.length);
      expect(expected.faces.length).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });

  it('moves every identity and face, bytes intact, into the default collection', async () => {
    stores = openLocalStores({ dataDir: dir });
    const { gallery } = stores;
    expect((await gallery.listCollections()).map((c) => c.name)).toEqual(['default']);
    const identities = await gallery.in('default').listIdentities();
    expect(identities.map((i) => ({ name: i.name, createdAt: i.createdAt }))).toEqual(expected.identities);
    const faces = await gallery.in('default').listFaces();
    expect(
      faces.map((f) => ({
        id: f.id,
        identity: f.identity,
        source: f.source,
        pipeline: f.pipeline,
        createdAt: f.createdAt,
        descriptorSha256: createHash('sha256').update(descriptorToBlob(f.descriptor)).digest('hex'),
      })),
    ).toEqual(expected.faces);
    for (const i of identities) expect(i.faceCount).toBe(expected.faces.filter((f) => f.identity === i.name).length);
    expect(await gallery.getCollection('default')).toMatchObject({ identityCount: expected.identities.length, faceCount: expected.faces.length });
  });

  it('keeps working after the upgrade, and a second open changes nothing', async () => {
    stores = openLocalStores({ dataDir: dir });
    const face = await stores.gallery.addFace(expected.identities[0]!.name, { descriptor: new Float32Array(128).fill(0.25) });
    await stores.close();
    stores = openLocalStores({ dataDir: dir });
    const faces = await stores.gallery.listFaces();
    expect(faces.map((f) => f.id)).toEqual([...expected.faces.map((f) => f.id), face.id]);
  });
});
