import type { Express, Request, Response } from 'express';
import { thumbnailKey } from '../../jobs/thumbnails.js';
import { NotFoundError } from '../../store/errors.js';
import { DEFAULT_COLLECTION } from '../../store/ports.js';
import { parseCollectionName, requireAccess, requireCollection, requireJobAccess } from '../collection-access.js';
import { ctx } from '../context.js';
import { BadRequestError, HttpNotFoundError } from '../errors.js';
import { parseIdentityName, parseJobId } from '../params.js';
import type { RouteContext } from '../route-context.js';

const FACE_ID = /^[A-Za-z0-9_-]{1,80}$/;

function parseFaceId(raw: unknown): string {
  if (typeof raw !== 'string' || !FACE_ID.test(raw)) throw new BadRequestError('the face id is not valid', { code: 'bad-face-id' });
  return raw;
}

/** Image bytes with a type the browser must not second-guess, private to whoever asked. */
export function sendImage(res: Response, body: Buffer, type: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'private, max-age=300');
  res.setHeader('Content-Disposition', 'inline');
  res.type(type).send(body);
}

export async function blobOrNull(rc: RouteContext, key: string): Promise<Buffer | null> {
  try {
    return await rc.guard(() => rc.deps.blobs.get(key));
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/**
 * Faces for the console (operator role): `GET /v1/identities/:name/faces` lists an identity's
 * faces without descriptors, `GET .../faces/:faceId/thumbnail` is the small JPEG stored at
 * enrollment, and `GET /v1/jobs/:id/image` is a job's input while it is retained.
 */
export function registerFaceRoutes(app: Express, rc: RouteContext): void {
  const { gallery } = rc.deps;
  const operator = rc.auth.requireRole('operator');

  app.get('/v1/identities/:name/faces', operator, rc.rateLimit, async (req, res) => {
    const name = parseIdentityName(req.params.name);
    const identity = await rc.guard(() => gallery.getIdentity(name));
    if (!identity) throw new HttpNotFoundError(`no identity ${JSON.stringify(name)}`);
    const faces = (await rc.guard(() => gallery.listFaces())).filter((f) => f.identity === name);
    const base = `/v1/identities/${encodeURIComponent(name)}/faces`;
    res.json({
      items: faces.map((f) => ({
        id: f.id,
        identity: f.identity,
        createdAt: f.createdAt,
        pipeline: f.pipeline,
        ...(f.source !== undefined ? { source: f.source } : {}),
        links: { thumbnail: `${base}/${encodeURIComponent(f.id)}/thumbnail` },
      })),
    });
  });

  // The same thumbnail under the default collection's old path and under every collection.
  const thumbnail = async (req: Request, res: Response, collection: string) => {
    const name = parseIdentityName(req.params.name);
    const faceId = parseFaceId(req.params.faceId);
    const faces = await rc.guard(() => gallery.in(collection).listFacesOf(name));
    // The face must belong to this identity: a face id alone must not read another's thumbnail.
    if (!faces.some((f) => f.id === faceId)) throw new HttpNotFoundError(`identity ${JSON.stringify(name)} has no face ${faceId}`);
    const body = await blobOrNull(rc, thumbnailKey(faceId));
    if (!body) throw new HttpNotFoundError(`face ${faceId} has no thumbnail (enrolled before thumbnails were kept)`);
    sendImage(res, body, 'image/jpeg');
  };
  app.get('/v1/identities/:name/faces/:faceId/thumbnail', operator, rc.rateLimit, async (req, res) => {
    requireAccess(res, DEFAULT_COLLECTION);
    await thumbnail(req, res, DEFAULT_COLLECTION);
  });
  app.get('/v1/collections/:c/identities/:name/faces/:faceId/thumbnail', operator, rc.rateLimit, async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    await thumbnail(req, res, c.name);
  });

  // The job's owner (the key that submitted it) or an operator, as for the job itself.
  app.get('/v1/jobs/:id/image', rc.auth.requireRole('client'), rc.rateLimit, async (req, res) => {
    const id = parseJobId(req.params.id);
    ctx(res).log = ctx(res).log.child({ jobId: id });
    const record = await rc.guard(() => rc.deps.jobs.get(id));
    if (!record) throw new HttpNotFoundError(`no job ${id}`);
    requireJobAccess(res, record);
    const body = await blobOrNull(rc, record.input.key);
    if (!body) throw new HttpNotFoundError(`the input image of job ${id} is no longer retained`);
    // Only types the upload check accepted reach the store; anything else goes out as bytes.
    const type = /^image\/(jpeg|png|webp|gif|tiff|avif|heif)$/.test(record.input.contentType) ? record.input.contentType : 'application/octet-stream';
    sendImage(res, body, type);
  });
}
