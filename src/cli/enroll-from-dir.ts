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

/** What `enrollFromDirOver` asks of the stack: the HTTP API (`fetch` by default). */
export interface FromDirHttp {
  /** The web tier, e.g. http://127.0.0.1:8080. */
  url: string;
  /** An operator key (enrolling is an operator's act); none when the stack runs without auth. */
  key?: string;
  collection: string;
  largest?: boolean;
  /** Images in flight at once, so the fleet's workers share them (default 4). */
  concurrency?: number;
  fetch?: typeof fetch;
}

/**
 * `facefleet enroll --from-dir DIR --url URL`: the same plan, progress bar and report as
 * {@link enrollFromDir}, but each image is an enroll job submitted to a running stack
 * (`POST /v1/collections/:c/identities/:name/faces?create=true`), several at a time so the
 * fleet shares the work. Resumable the same way: the stack answers 200 `existing` for bytes
 * already enrolled for the identity (it keys faces by the SHA-256 of their bytes), counted as
 * skipped. A job still running when the request's wait ends is polled until it settles.
 */
export async function enrollFromDirOver(
  dir: string,
  http: FromDirHttp,
  deps: { readImage: (file: string) => Promise<Buffer>; report: (line: string) => void; progress: boolean },
): Promise<FromDirReport> {
  const doFetch = http.fetch ?? fetch;
  const base = http.url.replace(/\/+$/, '');
  const headers: Record<string, string> = http.key ? { authorization: `Bearer ${http.key}` } : {};
  const plan = await planFromDir(dir);
  const work = plan.flatMap(({ identity, files }) => files.map((file) => ({ identity, file })));
  const bar = deps.progress ? new SingleBar({ stream: process.stderr, format: 'enrolling [{bar}] {value}/{total} images | {eta_formatted} left', hideCursor: true }) : undefined;
  bar?.start(work.length, 0);
  const result: FromDirReport = { added: 0, skipped: 0, refused: [] };
  let done = 0;
  let next = 0;

  const problemOf = async (res: Response): Promise<string> => {
    const body = (await res.json().catch(() => ({}))) as { detail?: string; title?: string; code?: string };
    return `${body.detail ?? body.title ?? res.statusText} (${body.code ?? `http ${res.status}`})`;
  };
  const settle = async (jobId: string): Promise<'added' | 'skipped' | string> => {
    for (;;) {
      const res = await doFetch(`${base}/v1/jobs/${encodeURIComponent(jobId)}?wait=20`, { headers });
      if (!res.ok) return problemOf(res);
      const job = (await res.json()) as { state: string; result?: { enrolled?: { existing?: boolean }; refused?: { message: string; reason: string } }; error?: { message: string; code: string } };
      if (job.state === 'done') {
        if (job.result?.refused) return `${job.result.refused.message} (${job.result.refused.reason})`;
        return job.result?.enrolled?.existing ? 'skipped' : 'added';
      }
      if (job.state === 'dead-lettered') return `${job.error?.message ?? 'the job failed'} (${job.error?.code ?? 'dead-lettered'})`;
    }
  };
  const one = async (identity: string, file: string): Promise<'added' | 'skipped' | string> => {
    const bytes = await deps.readImage(file);
    const form = new FormData();
    form.set('image', new Blob([bytes]), path.basename(file));
    form.set('wait', '20');
    if (http.largest) form.set('largest', 'true');
    const target = `${base}/v1/collections/${encodeURIComponent(http.collection)}/identities/${encodeURIComponent(identity)}/faces?create=true`;
    const res = await doFetch(target, { method: 'POST', headers, body: form });
    if (res.status === 201) return 'added';
    if (res.status === 200) return 'skipped';
    if (res.status === 202) return settle(((await res.json()) as { id: string }).id);
    return problemOf(res);
  };
  const lane = async () => {
    while (next < work.length) {
      const { identity, file } = work[next++]!;
      let outcome: string;
      try {
        outcome = await one(identity, file);
      } catch (e) {
        const fe = toFacefleetError(e);
        outcome = `${fe.message} (${fe.code})`;
      }
      if (outcome === 'added') result.added += 1;
      else if (outcome === 'skipped') result.skipped += 1;
      else {
        result.refused.push({ file, reason: outcome });
        deps.report(`refused ${file}: ${outcome}`);
      }
      bar?.update(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, http.concurrency ?? 4) }, lane));
  bar?.stop();
  // Lanes finish out of order; the report lists refusals in the plan's order.
  const order = new Map(work.map((w, i) => [w.file, i]));
  result.refused.sort((a, b) => order.get(a.file)! - order.get(b.file)!);
  return result;
}
