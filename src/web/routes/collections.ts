import { forgetFaces } from '../../jobs/forget-faces.js';
import type { Express, Response } from 'express';
import { validateCollectionThreshold } from '../../jobs/collection-name.js';
import { checkQualitySetting } from '../../recognition/quality.js';
import type { Collection, CollectionSettingsPatch } from '../../store/ports.js';
import { COLLECTION_SETTINGS, DEFAULT_COLLECTION, settingsOf } from '../../store/ports.js';
import { deleteUnknownThumbnails } from '../../unknowns/thumbnails.js';
import { ctx } from '../context.js';
import { BadRequestError, ConflictError, HttpNotFoundError } from '../errors.js';
import { mayUse, parseCollectionName, requireAccess, requireCollection } from '../collection-access.js';
import type { RouteContext } from '../route-context.js';
import { jsonBody } from './identities.js';

export function collectionPath(name: string): string {
  return `/v1/collections/${encodeURIComponent(name)}`;
}

function collectionBody(c: Collection): Collection & { links: { self: string; identities: string; unknowns: string } } {
  return { ...c, links: { self: collectionPath(c.name), identities: `${collectionPath(c.name)}/identities`, unknowns: `${collectionPath(c.name)}/unknowns` } };
}

/** The optional `threshold` of a create request: a JSON number in (0, 2]. */
function parseBodyThreshold(raw: unknown): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  try {
    return validateCollectionThreshold(raw);
  } catch (err) {
    throw new BadRequestError('threshold must be a JSON number in (0, 2]', { code: 'bad-threshold', cause: err });
  }
}

/**
 * The settings a create (`null` = absent) or PATCH (`null` = back to the service default) body
 * gives; 400 for a bad value, and with `allowed` for any field not in it.
 */
function parseSettings(body: Record<string, unknown>, allowed?: readonly string[]): CollectionSettingsPatch {
  const unknown = allowed ? Object.keys(body).filter((k) => !allowed.includes(k)) : [];
  if (unknown.length > 0) throw new BadRequestError(`unknown field ${JSON.stringify(unknown[0])}; the settings are ${COLLECTION_SETTINGS.join(', ')}`, { code: 'bad-body' });
  const patch: CollectionSettingsPatch = {};
  if (body.threshold !== undefined) patch.threshold = body.threshold === null ? null : parseBodyThreshold(body.threshold)!;
  for (const k of ['minQuality', 'minEnrollQuality'] as const) {
    const raw = body[k];
    if (raw === undefined) continue;
    try {
      patch[k] = raw === null ? null : checkQualitySetting(raw, k);
    } catch (err) {
      throw new BadRequestError(`${k} must be a JSON number in [0, 1]`, { code: `bad-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, cause: err });
    }
  }
  const track = body.trackUnknowns;
  if (track !== undefined) {
    if (track !== null && typeof track !== 'boolean') throw new BadRequestError('trackUnknowns must be true or false', { code: 'bad-track-unknowns' });
    patch.trackUnknowns = track;
  }
  const days = body.unknownRetentionDays;
  if (days !== undefined) {
    if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 3650)) {
      throw new BadRequestError('unknownRetentionDays must be a whole number of days from 1 to 3650', { code: 'bad-unknown-retention' });
    }
    patch.unknownRetentionDays = days;
  }
  return patch;
}

/** `/v1/collections`: create, list, show, change and remove collections (operator role). */
export function registerCollectionRoutes(app: Express, rc: RouteContext): void {
  const { gallery } = rc.deps;
  const operator = rc.auth.requireRole('operator');

  app.post('/v1/collections', operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('send {"name": "...", "threshold"?: 0.6, "minQuality"?: 0.2, "minEnrollQuality"?: 0.4}', { code: 'bad-body' });
    const { name: rawName } = body as { name?: unknown };
    if (rawName === undefined) throw new BadRequestError('name is required', { code: 'bad-collection' });
    const name = parseCollectionName(rawName);
    const settings = settingsOf(parseSettings(body as Record<string, unknown>));
    requireAccess(res, name);
    try {
      const made = await rc.guard(() => gallery.createCollection(name, settings));
      res.status(201).location(collectionPath(name)).json(collectionBody(made));
    } catch (err) {
      if ((err as { code?: string }).code === 'already-exists') throw new ConflictError(`collection ${JSON.stringify(name)} already exists`);
      throw err;
    }
  });

  app.get('/v1/collections', operator, rc.rateLimit, async (_req, res) => {
    const all = await rc.guard(() => gallery.listCollections());
    const principal = ctx(res).principal;
    res.json({ items: all.filter((c) => mayUse(principal, c.name)).map(collectionBody) });
  });

  app.get('/v1/collections/:c', operator, rc.rateLimit, async (req, res) => {
    const name = parseCollectionName(req.params.c);
    requireAccess(res, name);
    // The one read that counts the collection's identities and faces.
    const collection = await rc.guard(() => gallery.getCollection(name));
    if (!collection) throw new HttpNotFoundError(`no collection ${JSON.stringify(name)}`);
    res.json(collectionBody(collection));
  });

  // Change settings: a number sets one, null returns it to the service default, absent leaves it.
  app.patch('/v1/collections/:c', operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const name = parseCollectionName(req.params.c);
    requireAccess(res, name);
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('send {"threshold"?: 0.6, "minQuality"?: 0.2, "minEnrollQuality"?: 0.4, "trackUnknowns"?: true, "unknownRetentionDays"?: 30}', { code: 'bad-body' });
    const patch = parseSettings(body as Record<string, unknown>, COLLECTION_SETTINGS);
    const updated = await rc.guard(() => gallery.updateCollection(name, patch));
    if (!updated) throw new HttpNotFoundError(`no collection ${JSON.stringify(name)}`);
    res.json(collectionBody(updated));
  });

  app.delete('/v1/collections/:c', operator, rc.rateLimit, async (req, res) => {
    const name = parseCollectionName(req.params.c);
    requireAccess(res, name);
    if (name === DEFAULT_COLLECTION) throw new ConflictError('the default collection cannot be deleted; remove its identities instead');
    const view = gallery.in(name);
    // Read the faces' sources before the collection goes, to delete their stored images after.
    const faces = await rc.guard(() => view.listFaces());
    const clusters = await rc.guard(() => gallery.unknowns(name).list());
    const removed = await rc.guard(() => gallery.removeCollection(name));
    if (!removed) throw new HttpNotFoundError(`no collection ${JSON.stringify(name)}`);
    // Its webhook endpoints go with it (and their pending deliveries then end with nothing to send).
    for (const endpoint of await rc.guard(() => rc.deps.webhooks.list(name))) await rc.guard(() => rc.deps.webhooks.delete(name, endpoint.id));
    await forgetFaces({ ...rc.deps, log: ctx(res).log }, faces);
    await deleteUnknownThumbnails(rc.deps.blobs, clusters.flatMap((c) => c.representatives));
    res.status(204).end();
  });
}


