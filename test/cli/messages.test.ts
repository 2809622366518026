import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { aboutFile, emptyGalleryWarning } from '../../src/cli/engine-commands.js';
import { verifyImages } from '../../src/recognition/engine.js';
import { NotAFileError } from '../../src/recognition/errors.js';
import type { Engine } from '../../src/recognition/types.js';

describe('CLI messages', () => {
  it('names a missing file once', () => {
    const e = new NotAFileError('nope.jpg', 'no such file');
    expect(aboutFile('nope.jpg', e.message)).toBe('nope.jpg is not an image file: no such file.');
    expect(aboutFile('a.jpg', 'No face was found')).toBe('a.jpg: No face was found');
  });
});

describe('verify and recognize messages', () => {
  const blank: Engine = { backend: 'test', detector: 'test', analyze: async () => ({ width: 8, height: 8, faces: [] }), close: async () => {} };

  it('verify says which image had no face', async () => {
    await expect(verifyImages(blank, Buffer.from('a'), Buffer.from('b'), 0.6, ['a.jpg', 'b.jpg'])).rejects.toThrow(/No face was found in a\.jpg/);
    const oneFace: Engine = {
      ...blank,
      analyze: async (img) => ({ width: 8, height: 8, faces: img.toString() === 'a' ? [{ box: { x: 0, y: 0, width: 4, height: 4 }, score: 1, descriptor: new Float32Array(128) }] : [] }),
    };
    await expect(verifyImages(oneFace, Buffer.from('a'), Buffer.from('b'), 0.6, ['a.jpg', 'b.jpg'])).rejects.toThrow(/No face was found in b\.jpg/);
  });

  it('recognize warns about an empty gallery and names the data dir it used', () => {
    expect(emptyGalleryWarning('.facefleet')).toContain(path.resolve('.facefleet'));
    expect(emptyGalleryWarning('/srv/ff')).toMatch(/^warning: the gallery in \/srv\/ff is empty/);
  });
});
