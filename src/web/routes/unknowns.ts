import type { Express, Request, Response } from 'express';
import { decodeCursor, encodeCursor } from '../../store/cursor.js';
import { InvalidCursorError } from '../../store/errors.js';
import type { CollectionInfo, UnknownCluster } from '../../store/ports.js';
import { ClusterNotFoundError, IdentityMissingError, InvalidClusterRequestError } from '../../unknowns/errors.js';
import { findCluster, forgetCluster, mergeClusters, nameCluster } from '../../unknowns/operations.js';
import { bucketOf, submitRecluster } from '../../unknowns/recluster-job.js';
import { CLUSTER_ID } from '../../unknowns/rules.js';
import { unknownThumbnailKey } from '../../unknowns/thumbnails.js';
import { parseCollectionName, requireCollection } from '../collection-access.js';
import { ctx } from '../context.js';
import { BadRequestError, ConflictError, HttpNotFoundError } from '../errors.js';
import { parseCursor, parseFlag, parseIdentityName, parseLimit, parseSince } from '../params.js';
import { jobLink, type RouteContext } from '../route-context.js';
import { collectionPath } from './collections.js';
import { blobOrNull, sendImage } from './faces.js';
import { jsonBody } from './identities.js';

const unknownsPath = (c: string) => `${collectionPath(c)}/unknowns`;

function parseClusterId(raw: unknown): string {
  if (typeof raw !== 'string' || !CLUSTER_ID.test(raw)) throw new BadRequestError('unknown cluster ids look like unk_ and 20 lowercase letters and digits', { code: 'bad-unknown-id' });
  return raw;
}

function parseMinSightings(raw: unknown): number {
  if (raw === undefined || raw === '') return 0;
  const value = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < 0) throw new BadRequestError('minSightings must be a whole number, 0 or more', { code: 'bad-min-sightings' });
  return value;
}

/** A cluster as the API shows it: counts, times and thumbnail links, never a descriptor. */
export function clusterBody(collection: string, c: UnknownCluster) {
  const self = `${unknownsPath(collection)}/${c.id}`;
  return {
    id: c.id,
    collection,
    state: c.state,
    ...(c.identity !== undefined ? { identity: c.identity } : {}),
    sightings: c.sightings,
    firstSeen: c.firstSeen,
    lastSeen: c.lastSeen,
    links: { self, thumbnails: c.representatives.map((_, n) => `${self}/thumbnails/${n}`) },
  };
}

function toHttp(err: unknown): never {
  if (err instanceof ClusterNotFoundError || err instanceof IdentityMissingError) throw new HttpNotFoundError(err.message, { cause: err });
  if (err instanceof InvalidClusterRequestError) throw new ConflictError(err.message, { cause: err });
  throw err;
}

/**
 * Unknown clusters of a collection (operator role): list, show, thumbnails, name, merge, forget,
 * and ask for a recluster. Listing pages by first seen: the cursor is the last cluster's
 * (firstSeen, id), so a cluster that joins meanwhile keeps its place.
 */
export function registerUnknownRoutes(app: Express, rc: RouteContext): void {
  const { gallery } = rc.deps;
  const operator = rc.auth.requireRole('operator');
  const base = '/v1/collections/:c/unknowns';
  const collectionOf = (req: Request, res: Response): Promise<CollectionInfo> => requireCollection(rc, res, parseCollectionName(req.params.c));
  const deps = (res: Response) => ({ blobs: rc.deps.blobs, log: ctx(res).log });

  app.get(base, operator, rc.rateLimit, async (req, res) => {
    const minSightings = parseMinSightings(req.query.minSightings);
    const since = parseSince(req.query.since);
    const limit = parseLimit(req.query.limit);
    const cursorText = parseCursor(req.query.cursor);
    let after: { f: string; id: string } | undefined;
    try {
      after = cursorText ? (decodeCursor(cursorText, { f: 'string', id: 'string' }) as { f: string; id: string }) : undefined;
    } catch (err) {
      if (err instanceof InvalidCursorError) throw new BadRequestError('the cursor is not one this listing gave', { code: 'bad-cursor', cause: err });
      throw err;
    }
    const c = await collectionOf(req, res);
    const all = (await rc.guard(() => gallery.unknowns(c.name).list())).filter(
      (u) => u.state === 'open' && u.sightings >= minSightings && (!since || u.lastSeen >= since) && (!after || u.firstSeen > after.f || (u.firstSeen === after.f && u.id > after.id)),
    );
    const page = all.slice(0, limit);
    const last = page[page.length - 1];
    res.json({ items: page.map((u) => clusterBody(c.name, u)), ...(all.length > limit && last ? { cursor: encodeCursor({ f: last.firstSeen, id: last.id }) } : {}) });
  });

  app.get(`${base}/:id`, operator, rc.rateLimit, async (req, res) => {
    const id = parseClusterId(req.params.id);
    const c = await collectionOf(req, res);
    const found = await rc.guard(() => findCluster(gallery.unknowns(c.name), id));
    if (!found) throw new HttpNotFoundError(`no unknown cluster ${id} in ${c.name}`);
    // A job result keeps the id its face was given; after a merge that id leads to the survivor.
    if (found.mergedInto) return void res.redirect(308, `${unknownsPath(c.name)}/${found.mergedInto}`);
    res.json({ ...clusterBody(c.name, found.cluster), recent: found.cluster.recent });
  });

  app.get(`${base}/:id/thumbnails/:n`, operator, rc.rateLimit, async (req, res) => {
    const id = parseClusterId(req.params.id);
    const n = /^\d{1,3}$/.test(String(req.params.n)) ? Number(req.params.n) : NaN;
    if (!Number.isInteger(n)) throw new BadRequestError('the thumbnail number is a whole number from 0', { code: 'bad-thumbnail' });
    const c = await collectionOf(req, res);
    const cluster = await rc.guard(() => gallery.unknowns(c.name).get(id));
    if (!cluster) throw new HttpNotFoundError(`no unknown cluster ${id} in ${c.name}`);
    const rep = cluster.representatives[n];
    if (!rep) throw new HttpNotFoundError(`unknown cluster ${id} has ${cluster.representatives.length} thumbnails`);
    const body = await blobOrNull(rc, unknownThumbnailKey(rep.id));
    if (!body) throw new HttpNotFoundError(`thumbnail ${n} of ${id} was not stored`);
    sendImage(res, body, 'image/jpeg');
  });

  app.post(`${base}/merge`, operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const ids = (req.body as { ids?: unknown } | null)?.ids;
    if (!Array.isArray(ids) || ids.length < 2 || ids.length > 100) throw new BadRequestError('send {"ids": ["unk_...", "unk_..."]}: two to 100 cluster ids', { code: 'bad-body' });
    const parsed = ids.map(parseClusterId);
    if (new Set(parsed).size !== parsed.length) throw new BadRequestError('a cluster cannot be merged with itself', { code: 'duplicate-unknown-id' });
    const c = await collectionOf(req, res);
    const merged = await rc.guard(() => mergeClusters(deps(res), gallery.unknowns(c.name), parsed)).catch(toHttp);
    res.json(clusterBody(c.name, merged));
  });

  app.post(`${base}/recluster`, operator, rc.rateLimit, async (req, res) => {
    const c = await collectionOf(req, res);
    // One per collection per second: a client repeating the call gets the same job.
    const { jobId } = await rc.guard(() => submitRecluster({ blobs: rc.deps.blobs, runner: rc.deps.runner }, { collection: c.name, bucket: bucketOf(new Date(), 1), maxAttempts: rc.tuning.maxAttempts }));
    res.status(202).location(jobLink(jobId)).json({ id: jobId, links: { self: jobLink(jobId) } });
  });

  app.post(`${base}/:id/name`, operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const id = parseClusterId(req.params.id);
    const body = req.body as { identity?: unknown; create?: unknown; collection?: unknown } | null;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('send {"identity": "...", "create"?: true}', { code: 'bad-body' });
    const identity = parseIdentityName(body.identity);
    const create = typeof body.create === 'boolean' ? body.create : parseFlag(body.create, 'create');
    const c = await collectionOf(req, res);
    if (body.collection !== undefined && parseCollectionName(body.collection) !== c.name) {
      throw new BadRequestError(`a cluster of ${c.name} can only become an identity of ${c.name}`, { code: 'other-collection' });
    }
    const named = await rc.guard(() => nameCluster(deps(res), { store: gallery.unknowns(c.name), gallery: gallery.in(c.name) }, { id, identity, create })).catch(toHttp);
    res.json({ ...clusterBody(c.name, named), links: { self: `${unknownsPath(c.name)}/${id}`, thumbnails: [], identity: `${collectionPath(c.name)}/identities/${encodeURIComponent(identity)}` } });
  });

  app.delete(`${base}/:id`, operator, rc.rateLimit, async (req, res) => {
    const id = parseClusterId(req.params.id);
    const c = await collectionOf(req, res);
    await rc.guard(() => forgetCluster(deps(res), gallery.unknowns(c.name), id)).catch(toHttp);
    res.status(204).end();
  });
}
