import type { Request, Response } from 'express';
import { validateCollectionName } from '../jobs/collection-name.js';
import type { JobRecord } from '../jobs/types.js';
import type { CollectionInfo } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { ctx, type Principal } from './context.js';
import { BadRequestError, ForbiddenError, HttpNotFoundError } from './errors.js';
import type { RouteContext } from './route-context.js';

/** A collection name from a path, field or query value; `fallback` when absent. 400 when malformed. */
export function parseCollectionName(raw: unknown, fallback?: string): string {
  const value = Array.isArray(raw) ? (raw.length === 1 ? raw[0] : raw) : raw;
  if ((value === undefined || value === '') && fallback !== undefined) return fallback;
  try {
    return validateCollectionName(value);
  } catch (err) {
    throw new BadRequestError((err as Error).message, { code: 'bad-collection', cause: err });
  }
}

/** The collection named by a multipart field or the query string, `default` when neither names one. */
export function collectionOfRequest(req: Request): string {
  const body = req.body as Record<string, unknown> | undefined;
  return parseCollectionName(body?.collection ?? req.query.collection, DEFAULT_COLLECTION);
}

/** True when the request's key may use `collection` (unscoped keys, and auth off, reach every one). */
export function mayUse(principal: Principal | undefined, collection: string): boolean {
  return !principal?.collections || principal.collections.includes(collection);
}

/** 403 unless the request's key may use `collection`. */
export function requireAccess(res: Response, collection: string): void {
  if (!mayUse(ctx(res).principal, collection)) {
    throw new ForbiddenError(`this key may not use the collection ${JSON.stringify(collection)}`);
  }
}

/** The collection's settings (one read, no counting), after the access check; 404 when it does not exist. */
export async function requireCollection(rc: RouteContext, res: Response, name: string): Promise<CollectionInfo> {
  requireAccess(res, name);
  const collection = await rc.guard(() => rc.deps.gallery.findCollection(name));
  if (!collection) throw new HttpNotFoundError(`no collection ${JSON.stringify(name)}`);
  return collection;
}

/**
 * Whether the request's key may read this job: operators read every job; a client key reads
 * the jobs it submitted. Jobs with no recorded key (auth off, or from before keys owned jobs)
 * are readable by any key that may use their collection.
 */
export function mayReadJob(principal: Principal | undefined, record: JobRecord): boolean {
  if (!principal || principal.role === 'operator') return true;
  const owner = record.options.submittedBy;
  return owner === undefined || owner === principal.keyId;
}

/** 404 for another key's job (its existence is not revealed), 403 for a job of a collection the key may not use. */
export function requireJobAccess(res: Response, record: JobRecord): void {
  if (!mayReadJob(ctx(res).principal, record)) throw new HttpNotFoundError(`no job ${record.id}`);
  requireAccess(res, record.options.collection ?? DEFAULT_COLLECTION);
}
