/**
 * Provision step: what the workers install. By default provision packs this checkout
 * (`npm pack`), or takes the tarball the operator gave, and uploads it to the deployment's bucket
 * under `releases/<sha256>/<file>` with its SHA-256; the user data installs that object only
 * when the hash matches. `--package SPEC` installs what the operator named instead. Nothing
 * installs a registry name that nobody gave.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import { awsCall, awsErrorCode, classifyAwsError } from '../store/aws/errors.js';
import type { ProvisionContext, ProvisionedResource, WorkerPackage } from './provision-types.js';
import type { WorkerInstall } from './user-data.js';

const run = promisify(execFile);

/** The S3 metadata key (x-amz-meta-sha256) that records a release's hash. */
export const RELEASE_SHA256_METADATA = 'sha256';

/** The folder of the facefleet checkout this module runs from: the nearest package.json named facefleet. */
export function projectRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'facefleet') return dir;
    if (path.dirname(dir) === dir) throw new ConfigError(`no facefleet package.json above ${from}: pass --tarball FILE or --package SPEC`);
  }
}

/** `npm pack` of `dir` (its prepare script builds it first) into a new temporary folder; returns the tarball's path. */
export async function packProject(dir: string): Promise<string> {
  const dest = await mkdtemp(path.join(os.tmpdir(), 'facefleet-pack-'));
  try {
    await run('npm', ['pack', '--pack-destination', dest], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    await rm(dest, { recursive: true, force: true });
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new ConfigError(`npm pack of ${dir} failed (pass --tarball FILE or --package SPEC to skip packing): ${stderr || (err as Error).message}`);
  }
  const tarballs = (await readdir(dest)).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new ConfigError(`npm pack of ${dir} left ${tarballs.length} tarballs in ${dest}`);
  return path.join(dest, tarballs[0]!);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The object key of a release: the hash first, so a new build is a new key and an old one is never overwritten. */
export function releaseKey(sha256: string, file: string): string {
  const base = path.basename(file).replace(/[^A-Za-z0-9._-]/g, '_') || 'facefleet.tgz';
  return `releases/${sha256}/${base}`;
}

export interface WorkerRelease {
  install: WorkerInstall;
  /** The uploaded object, when there is one (not for `--package SPEC`). */
  resource?: ProvisionedResource;
  /** One line for the report: what the workers install. */
  describe: string;
}

/** Resolve `pkg` to what the workers install, uploading the tarball unless it is there already. */
export async function ensureRelease(ctx: ProvisionContext, pkg: WorkerPackage = { kind: 'pack' }): Promise<WorkerRelease> {
  if (pkg.kind === 'spec') {
    if (!pkg.spec.trim()) throw new ConfigError('--package needs a spec: an npm name, a URL or s3://bucket/key');
    return { install: { kind: 'spec', spec: pkg.spec }, describe: `npm install -g ${pkg.spec} (given with --package)` };
  }
  const packed = pkg.kind === 'pack' ? await packProject(pkg.dir ?? projectRoot()) : undefined;
  const file = pkg.kind === 'tarball' ? pkg.path : packed!;
  try {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new ConfigError(`--tarball ${file}: no such file`);
    const sha256 = await sha256File(file);
    const Bucket = ctx.names.bucket;
    const Key = releaseKey(sha256, file);
    const install: WorkerInstall = { kind: 'release', bucket: Bucket, key: Key, sha256 };
    const describe = `s3://${Bucket}/${Key} (${pkg.kind === 'pack' ? 'npm pack of this checkout' : file}), SHA-256 ${sha256} checked before install`;
    const base = { kind: 's3-object' as const, name: `${Bucket}/${Key}` };
    const stored = await ctx.clients.s3.send(new HeadObjectCommand({ Bucket, Key })).then(
      (o) => o.Metadata?.[RELEASE_SHA256_METADATA],
      (err) => {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        // A dry run may plan a bucket that does not exist yet.
        if (status === 404 || awsErrorCode(err) === 'NotFound' || awsErrorCode(err) === 'NoSuchKey' || awsErrorCode(err) === 'NoSuchBucket') return undefined;
        throw classifyAwsError(err, `head ${Bucket}/${Key}`);
      },
    );
    if (stored === sha256) return { install, describe, resource: { ...base, action: 'unchanged' } };
    const detail = `upload ${info.size} bytes, SHA-256 ${sha256}`;
    if (ctx.dryRun) return { install, describe, resource: { ...base, action: 'planned', detail } };
    const body = await readFile(file);
    await awsCall(`upload ${Bucket}/${Key}`, () =>
      ctx.clients.s3.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body: body,
          ContentType: 'application/gzip',
          Metadata: { [RELEASE_SHA256_METADATA]: sha256 },
          // S3 checks the upload against this too.
          ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
        }),
      ),
    );
    return { install, describe, resource: { ...base, action: stored === undefined ? 'created' : 'updated', detail } };
  } finally {
    if (packed) await rm(path.dirname(packed), { recursive: true, force: true });
  }
}
