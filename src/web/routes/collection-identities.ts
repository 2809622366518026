import type { Express, RequestHandler } from 'express';
import type { Collection, EnrolledFace } from '../../store/ports.js';
import { enrollQualityOptions } from '../quality-options.js';
import { parseCollectionName, requireCollection } from '../collection-access.js';
import { BadRequestError, ConflictError, HttpNotFoundError } from '../errors.js';
import { parseFlag, parseIdentityName, parseWait } from '../params.js';
import { enrollmentOf, jobLink, sendAccepted, unfinishedJobError, type RouteContext } from '../route-context.js';
import { isTerminal } from '../wait.js';
import { parseCallback, webhookPolicy } from '../webhook-url.js';
import { forgetFaces } from '../../jobs/forget-faces.js';
import { ctx } from '../context.js';
import { collectionPath } from './collections.js';
import { jsonBody } from './identities.js';
import { jobOwnership, submitAndWait } from './jobs.js';

const FACE_ID = /^[A-Za-z0-9-]{1,64}$/;

function identityPath(collection: string, name: string): string {
  return `${collectionPath(collection)}/identities/${encodeURIComponent(name)}`;
}

/** A face as the API shows it: never the descriptor. */
function faceBody(collection: string, f: EnrolledFace) {
  return {
    id: f.id,
    identity: f.identity,
    collection,
    pipeline: f.pipeline,
    createdAt: f.createdAt,
    ...(f.source !== undefined ? { source: f.source } : {}),
    ...(f.contentHash !== undefined ? { contentHash: f.contentHash } : {}),
  };
}

/**
 * Identities and faces nested under a collection (operator role):
 * `/v1/collections/:c/identities[/:name[/faces[/:faceId]]]`. Enrollment runs as an `enroll` job
 * in the collection; enrolling into an identity that does not exist is a 404 unless `create=true`.
 */
export function registerCollectionIdentityRoutes(app: Express, rc: RouteContext): void {
  const { config, gallery } = rc.deps;
  const policy = webhookPolicy(config.webhooks.allow);
  const operator = rc.auth.requireRole('operator');
  const base = '/v1/collections/:c/identities';

  app.get(base, operator, rc.rateLimit, async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    res.json({ items: await rc.guard(() => gallery.in(c.name).listIdentities()) });
  });

  app.post(base, operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('send {"name": "..."}', { code: 'bad-body' });
    const name = parseIdentityName((body as { name?: unknown }).name);
    try {
      const identity = await rc.guard(() => gallery.in(c.name).createIdentity(name));
      res.status(201).location(identityPath(c.name, name)).json(identity);
    } catch (err) {
      if ((err as { code?: string }).code === 'already-exists') throw new ConflictError(`identity ${JSON.stringify(name)} already exists in ${c.name}`);
      throw err;
    }
  });

  app.get(`${base}/:name`, operator, rc.rateLimit, async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const name = parseIdentityName(req.params.name);
    const identity = await rc.guard(() => gallery.in(c.name).getIdentity(name));
    if (!identity) throw new HttpNotFoundError(`no identity ${JSON.stringify(name)} in ${c.name}`);
    res.json(identity);
  });

  app.delete(`${base}/:name`, operator, rc.rateLimit, async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const name = parseIdentityName(req.params.name);
    const view = gallery.in(c.name);
    const faces = await rc.guard(() => view.listFacesOf(name));
    const removed = await rc.guard(() => view.removeIdentity(name));
    if (!removed) throw new HttpNotFoundError(`no identity ${JSON.stringify(name)} in ${c.name}`);
    await forgetFaces({ ...rc.deps, log: ctx(res).log }, faces);
    res.status(204).end();
  });

  app.get(`${base}/:name/faces`, operator, rc.rateLimit, async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const name = parseIdentityName(req.params.name);
    const view = gallery.in(c.name);
    if (!(await rc.guard(() => view.getIdentity(name)))) throw new HttpNotFoundError(`no identity ${JSON.stringify(name)} in ${c.name}`);
    res.json({ items: (await rc.guard(() => view.listFacesOf(name))).map((f) => faceBody(c.name, f)) });
  });

  app.delete(`${base}/:name/faces/:faceId`, operator, rc.rateLimit, async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const name = parseIdentityName(req.params.name);
    const faceId = String(req.params.faceId ?? '');
    if (!FACE_ID.test(faceId)) throw new BadRequestError('not a face id', { code: 'bad-face-id' });
    const view = gallery.in(c.name);
    const face = (await rc.guard(() => view.listFacesOf(name))).find((f) => f.id === faceId);
    if (!face || !(await rc.guard(() => view.removeFace(name, faceId)))) throw new HttpNotFoundError(`no face ${faceId} of ${JSON.stringify(name)} in ${c.name}`);
    await forgetFaces({ ...rc.deps, log: ctx(res).log }, [face]);
    res.status(204).end();
  });

  // Names, the collection and (unless create=true in the query) the identity are checked
  // before the upload is read: a mistake costs no bandwidth.
  const before: RequestHandler = async (req, res, next) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const name = parseIdentityName(req.params.name);
    res.locals.collection = c;
    const create = parseFlag(req.query.create, 'create');
    if (!create && !(await rc.guard(() => gallery.in(c.name).getIdentity(name)))) {
      // A form field may still say create=true; only the query can answer before the upload.
      if (req.is('multipart/form-data') === false) throw identityMissing(name, c.name);
      res.locals.identityMissing = true;
    }
    next();
  };
  app.post(`${base}/:name/faces`, operator, rc.rateLimit, before, rc.multipart('image'), async (req, res) => {
    const c = res.locals.collection as Collection;
    const name = parseIdentityName(req.params.name);
    const form = req.body as Record<string, unknown>;
    const create = parseFlag(form.create ?? req.query.create, 'create');
    if (res.locals.identityMissing === true && !create) throw identityMissing(name, c.name);
    const largest = parseFlag(form.largest ?? req.query.largest, 'largest');
    const waitSeconds = parseWait(form.wait ?? req.query.wait, config.web.maxWaitSeconds, Math.min(config.web.maxWaitSeconds, rc.tuning.enrollWaitSeconds));
    // The job's own webhook, as on POST /v1/jobs: checked now and at every delivery attempt.
    const callback = parseCallback(policy, form.callbackUrl ?? req.query.callbackUrl);
    const record = await submitAndWait(rc, req, res, {
      kind: 'enroll',
      field: 'image',
      options: {
        topK: config.recognition.topK,
        threshold: c.threshold ?? config.recognition.threshold,
        identity: name,
        largest,
        ...enrollQualityOptions((f) => form[f] ?? req.query[f], c),
        ...jobOwnership(res, c.name),
        ...(callback ? { callback } : {}),
      },
      waitSeconds,
    });
    // The callback's signing secret is shown here, once; job views never show it.
    const extra = callback ? { callback } : {};
    if (!isTerminal(record)) {
      sendAccepted(res, record, extra);
      return;
    }
    if (record.state !== 'done') throw unfinishedJobError(record, record.id, extra);
    const enrolled = enrollmentOf(record, extra);
    const face = enrolled ? (await rc.guard(() => gallery.in(c.name).listFacesOf(name))).find((f) => f.id === enrolled.faceId) : undefined;
    res
      .status(enrolled?.existing ? 200 : 201)
      .location(identityPath(c.name, name))
      .json({
        face: face ? faceBody(c.name, face) : { id: enrolled?.faceId, identity: name, collection: c.name },
        existing: enrolled?.existing === true,
        jobId: record.id,
        links: { job: jobLink(record.id), identity: identityPath(c.name, name) },
        ...extra,
      });
  });
}

function identityMissing(name: string, collection: string): HttpNotFoundError {
  return new HttpNotFoundError(`no identity ${JSON.stringify(name)} in ${collection}; enroll with create=true to make it`);
}
