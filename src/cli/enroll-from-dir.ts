/**
 * `facefleet enroll --from-dir DIR`: one sub-folder per identity, its images as the identity's
 * faces, enrolled in this process. Resumable: an image whose bytes are already enrolled for
 * that identity (by SHA-256) is skipped, so a second run does only what the first did not.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { toFacefleetError } from '../errors.js';
import { validateIdentityName } from '../jobs/identity-name.js';
import type { Engine } from '../recognition/types.js';
import type { CollectionGallery } from '../store/ports.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif']);

export interface FromDirReport {
  added: number;
  skipped: number;
  refused: { file: string; reason: string }[];
}

/** The identities (sub-folders) of `dir` and their image files, sorted. Throws on a bad folder name. */
export async function planFromDir(dir: string): Promise<{ identity: string; files: string[] }[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const plan: { identity: string; files: string[] }[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const identity = validateIdentityName(e.name);
    const files = (await fs.readdir(path.join(dir, e.name), { withFileTypes: true }))
      .filter((f) => f.isFile() && IMAGE_EXTENSIONS.has(path.extname(f.name).toLowerCase()))
      .map((f) => path.join(dir, e.name, f.name))
      .sort();
    if (files.length > 0) plan.push({ identity, files });
  }
  return plan;
}

export async function enrollFromDir(
  dir: string,
  deps: {
    gallery: CollectionGallery;
    engine: Engine;
    pickFace: (analyzed: Awaited<ReturnType<Engine['analyze']>>) => { descriptor: Float32Array };
    readImage: (file: string) => Promise<Buffer>;
    report: (line: string) => void;
    progress: boolean;
  },
): Promise<FromDirReport> {
  const plan = await planFromDir(dir);
  const total = plan.reduce((n, p) => n + p.files.length, 0);
  const bar = deps.progress ? new SingleBar({ stream: process.stderr, format: 'enrolling [{bar}] {value}/{total} images | {eta_formatted} left', hideCursor: true }) : undefined;
  bar?.start(total, 0);
  const result: FromDirReport = { added: 0, skipped: 0, refused: [] };
  let done = 0;
  for (const { identity, files } of plan) {
    for (const file of files) {
      try {
        const bytes = await deps.readImage(file);
        const contentHash = createHash('sha256').update(bytes).digest('hex');
        if (await deps.gallery.findFaceByHash(identity, contentHash)) {
          result.skipped += 1;
        } else {
          const face = deps.pickFace(await deps.engine.analyze(bytes));
          await deps.gallery.addFace(identity, { descriptor: face.descriptor, source: path.relative(dir, file), pipeline: deps.engine.pipeline, contentHash });
          result.added += 1;
        }
      } catch (e) {
        const fe = toFacefleetError(e);
        result.refused.push({ file, reason: `${fe.message} (${fe.code})` });
        deps.report(`refused ${file}: ${fe.message} (${fe.code})`);
      }
      bar?.update(++done);
    }
  }
  bar?.stop();
  return result;
}
