/**
 * The DynamoDB gallery: a table written before collections moves in place into `default`, and
 * after that no gallery call (enrollment above all) scans the table.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoGallery, encodeDescriptor } from '../../../src/store/aws/dynamo-gallery.js';
import { aDescriptor } from '../../helpers/builders.js';
import { createTables, freshNames, useEmulators } from './harness.js';

const env = useEmulators();

/** The document client, counting each command by name. */
function counting(doc: DynamoDBDocumentClient): { doc: DynamoDBDocumentClient; calls: string[] } {
  const calls: string[] = [];
  const wrapped = {
    send: (command: { constructor: { name: string } }, ...rest: unknown[]) => {
      calls.push(command.constructor.name);
      return (doc.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
    },
  } as unknown as DynamoDBDocumentClient;
  return { doc: wrapped, calls };
}

/** A fresh gallery table, and a gallery on it whose commands are counted. */
async function countingGallery(label: string) {
  const names = freshNames(label);
  const cleanup = await createTables(env, names, [names.galleryTable]);
  const { doc, calls } = counting(env.clients.doc);
  return { names, gallery: new DynamoGallery({ doc, table: names.galleryTable }), calls, cleanup };
}

describe('DynamoGallery upgrade and key design', () => {
  it('moves a legacy gallery into default: every live identity and face, nothing orphaned', async () => {
    const names = freshNames('upgrade');
    const cleanup = await createTables(env, names, [names.galleryTable]);
    try {
      const put = (Item: Record<string, unknown>) => env.clients.doc.send(new PutCommand({ TableName: names.galleryTable, Item }));
      // The layout release 0.1.0 wrote: one partition per identity, a version counter.
      await put({ pk: 'id#Ada', sk: 'identity', name: 'Ada', createdAt: '2026-01-01T00:00:00.000Z', generation: 'g1' });
      await put({ pk: 'id#Ada', sk: 'face#f1', faceId: 'f1', identity: 'Ada', generation: 'g1', descriptor: encodeDescriptor(aDescriptor(1)), source: 'a.jpg', createdAt: '2026-01-01T00:00:01.000Z' });
      await put({ pk: 'id#Ada', sk: 'face#f2', faceId: 'f2', identity: 'Ada', generation: 'g1', descriptor: encodeDescriptor(aDescriptor(2)), pipeline: 'dlib-ensemble', createdAt: '2026-01-01T00:00:02.000Z' });
      // Left behind by a removal racing an enrollment: not part of the gallery.
      await put({ pk: 'id#Ada', sk: 'face#old', faceId: 'old', identity: 'Ada', generation: 'g0', descriptor: encodeDescriptor(aDescriptor(9)), createdAt: '2025-01-01T00:00:00.000Z' });
      await put({ pk: 'id#Bob', sk: 'identity', name: 'Bob', createdAt: '2026-01-02T00:00:00.000Z', generation: 'g2' });
      await put({ pk: '#meta', sk: 'version', n: 7 });

      const gallery = new DynamoGallery({ doc: env.clients.doc, table: names.galleryTable });
      expect((await gallery.listCollections()).map((c) => [c.name, c.identityCount, c.faceCount])).toEqual([['default', 2, 2]]);
      expect(await gallery.listIdentities()).toEqual([
        { name: 'Ada', faceCount: 2, createdAt: '2026-01-01T00:00:00.000Z' },
        { name: 'Bob', faceCount: 0, createdAt: '2026-01-02T00:00:00.000Z' },
      ]);
      const faces = await gallery.listFaces();
      expect(faces.map((f) => [f.id, f.identity, f.source, f.pipeline])).toEqual([
        ['f1', 'Ada', 'a.jpg', 'standard'],
        ['f2', 'Ada', undefined, 'dlib-ensemble'],
      ]);
      expect(Array.from(faces[0]!.descriptor)).toEqual(Array.from(aDescriptor(1)));

      // A second process opening the upgraded table finds the same gallery, and adds to it.
      const again = new DynamoGallery({ doc: env.clients.doc, table: names.galleryTable });
      await again.addFace('Bob', { descriptor: aDescriptor(3) });
      expect((await gallery.listFaces()).map((f) => f.identity)).toEqual(['Ada', 'Ada', 'Bob']);
    } finally {
      await cleanup();
    }
  });

  it('never scans once open: enrolling, following the feed and listing use Query and GetItem only', async () => {
    const { names, gallery, calls, cleanup } = await countingGallery('noscan');
    try {
      await gallery.ping();
      // Opening a table without the default collection looks once for a legacy gallery.
      expect(calls.filter((c) => c === 'ScanCommand')).toHaveLength(1);
      calls.length = 0;
      await gallery.createCollection('a');
      const a = gallery.in('a');
      const v = await a.version();
      await a.addFace('Ada', { descriptor: aDescriptor(1) });
      await a.addFace('Ada', { descriptor: aDescriptor(2), contentHash: 'h' });
      await a.findFaceByHash('Ada', 'h');
      await a.changesSince(v);
      await a.listFaces();
      await gallery.listCollections();
      await a.removeIdentity('Ada');
      await gallery.removeCollection('a');
      expect(calls.length).toBeGreaterThan(10);
      expect(calls.filter((c) => c === 'ScanCommand')).toEqual([]);
      // A second process on the upgraded table does not scan at all.
      const fresh = counting(env.clients.doc);
      await new DynamoGallery({ doc: fresh.doc, table: names.galleryTable }).addFace('Cy', { descriptor: aDescriptor(3) });
      expect(fresh.calls).not.toContain('ScanCommand');
    } finally {
      await cleanup();
    }
  });

  it("reads a collection's settings, as each request does, with one GetItem however large it is", async () => {
    const { names, gallery, calls, cleanup } = await countingGallery('find');
    try {
      await gallery.createCollection('big', { threshold: 0.4 });
      for (let i = 0; i < 5; i++) await gallery.in('big').addFace(`P${i}`, { descriptor: aDescriptor(i) });
      calls.length = 0;
      expect(await gallery.findCollection('big')).toMatchObject({ name: 'big', threshold: 0.4 });
      expect(calls).toEqual(['GetCommand']);
    } finally {
      await cleanup();
    }
  });
});
