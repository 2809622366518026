import type { S3Client } from '@aws-sdk/client-s3';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import type { Logger } from '../../log.js';
import type { BlobPutOptions, BlobStore } from '../ports.js';
import { NotFoundError } from '../errors.js';
import { validateBlobKey } from '../blob-key.js';
import { awsCall, classifyAwsError } from './errors.js';

/**
 * The object tag a finished (`done`) job's input carries; the bucket's lifecycle rule
 * `facefleet-finished-inputs` (see `src/aws/provision-s3.ts`) expires objects under `inputs/`
 * that have it. A dead-lettered job's input never gets it, so a replay still finds its image.
 */
export const FINISHED_TAG = { Key: 'facefleet-finished', Value: 'done' } as const;

export interface S3BlobStoreOptions {
  s3: S3Client;
  bucket: string;
  /**
   * Server-side encryption for every object. Default `AES256` (SSE-S3). Pass a KMS key id or
   * ARN to use SSE-KMS with a bucket key instead; the roles then need kms:GenerateDataKey and
   * kms:Decrypt on it.
   */
  kmsKeyId?: string;
  log?: Logger;
}

/**
 * BlobStore on S3. One object per key. `put` is a single PutObject with the body's length
 * known up front (S3 makes the object visible atomically on success), so readers see the old
 * bytes or the new ones. Keys follow the port's rules (checked before any call).
 * `NoSuchKey`/404 becomes NotFoundError; other failures go through classifyAwsError.
 */
export class S3BlobStore implements BlobStore {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly kmsKeyId?: string;

  constructor(options: S3BlobStoreOptions) {
    this.s3 = options.s3;
    this.bucket = options.bucket;
    this.kmsKeyId = options.kmsKeyId;
  }

  async put(key: string, body: Buffer, options: BlobPutOptions = {}): Promise<void> {
    validateBlobKey(key);
    const encryption = this.kmsKeyId
      ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.kmsKeyId, BucketKeyEnabled: true }
      : { ServerSideEncryption: 'AES256' as const };
    await awsCall(`put blob ${key}`, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          // A known length lets the SDK send one plain PUT instead of a chunked upload.
          ContentLength: body.length,
          ContentType: options.contentType ?? 'application/octet-stream',
          ...encryption,
        }),
      ),
    );
  }

  async get(key: string): Promise<Buffer> {
    validateBlobKey(key);
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      const e = classifyAwsError(err, `get blob ${key}`);
      if (e instanceof NotFoundError) throw new NotFoundError(`blob ${key} not found`, { cause: err });
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      const e = classifyAwsError(err, `delete blob ${key}`);
      // S3 answers 204 for an absent key; an emulator's 404 means the same.
      if (e instanceof NotFoundError && (err as { name?: string }).name !== 'NoSuchBucket') return;
      throw e;
    }
  }

  /** Tag the object with {@link FINISHED_TAG} (replacing its tag set: facefleet sets no other tags). */
  async markFinished(key: string): Promise<void> {
    validateBlobKey(key);
    try {
      await this.s3.send(new PutObjectTaggingCommand({ Bucket: this.bucket, Key: key, Tagging: { TagSet: [{ ...FINISHED_TAG }] } }));
    } catch (err) {
      const e = classifyAwsError(err, `tag blob ${key}`);
      // Already deleted (a retention sweep, DELETE /v1/jobs/:id): nothing left to expire.
      if (e instanceof NotFoundError && (err as { name?: string }).name !== 'NoSuchBucket') return;
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    validateBlobKey(key);
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      const e = classifyAwsError(err, `head blob ${key}`);
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }

  async listOlderThan(prefix: string, before: Date, limit: number): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await awsCall(`list blobs under ${prefix}`, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 })),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key && o.LastModified && o.LastModified.getTime() < before.getTime()) out.push(o.Key);
        if (out.length >= limit) return out;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async ping(): Promise<void> {
    await awsCall(`head bucket ${this.bucket}`, () => this.s3.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  /** The client belongs to the caller (openAwsStores), which destroys it. */
  async close(): Promise<void> {}
}
