import { forgetFaces } from '../../jobs/forget-faces.js';
import { ctx } from '../context.js';
import express, { type Express } from 'express';
import { DEFAULT_COLLECTION } from '../../store/ports.js';
import { requireAccess } from '../collection-access.js';
import { BadRequestError, ConflictError, HttpNotFoundError, UnsupportedMediaTypeError } from '../errors.js';
import { parseFlag, parseIdentityName, parseWait } from '../params.js';
import { enrollQualityOptions } from '../quality-options.js';
import { enrollmentOf, jobLink, sendAccepted, unfinishedJobError, type RouteContext } from '../route-context.js';
import { isTerminal } from '../wait.js';
import { submitAndWait } from './jobs.js';

/** Small JSON bodies only, and only when the client says it is JSON. */
export function jsonBody(): express.RequestHandler[] {
  return [
    (req, _res, next) => {
      if (!req.is('application/json')) throw new UnsupportedMediaTypeError('send a JSON body (Content-Type: application/json)', { code: 'not-json' });
      next();
    },
    express.json({ limit: '64kb', strict: true }),
  ];
}

function identityPath(name: string): string {
  return `/v1/identities/${encodeURIComponent(name)}`;
}

/** Gallery management (operator role). Enrollment runs as an `enroll` job: the web tier has no model. */
export function registerIdentityRoutes(app: Express, rc: RouteContext): void {
  const { config, gallery } = rc.deps;
  // These routes are the default collection's: a key scoped elsewhere may not use them.
  const requireOperator = rc.auth.requireRole('operator');
  const operator: express.RequestHandler = (req, res, next) => {
    Promise.resolve(
      requireOperator(req, res, (err?: unknown) => {
        if (err) return next(err);
        try {
          requireAccess(res, DEFAULT_COLLECTION);
          next();
        } catch (e) {
          next(e);
        }
      }),
    ).catch(next);
  };

  app.get('/v1/identities', operator, rc.rateLimit, async (_req, res) => {
    const items = await rc.guard(() => gallery.listIdentities());
    res.json({ items });
  });

  app.post('/v1/identities', operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('send {"name": "..."}', { code: 'bad-body' });
    const name = parseIdentityName((body as { name?: unknown }).name);
    try {
      const identity = await rc.guard(() => gallery.createIdentity(name));
      res.status(201).location(identityPath(name)).json(identity);
    } catch (err) {
      if ((err as { code?: string }).code === 'already-exists') throw new ConflictError(`identity ${JSON.stringify(name)} already exists`);
      throw err;
    }
  });

  app.get('/v1/identities/:name', operator, rc.rateLimit, async (req, res) => {
    const name = parseIdentityName(req.params.name);
    const identity = await rc.guard(() => gallery.getIdentity(name));
    if (!identity) throw new HttpNotFoundError(`no identity ${JSON.stringify(name)}`);
    res.json(identity);
  });

  app.delete('/v1/identities/:name', operator, rc.rateLimit, async (req, res) => {
    const name = parseIdentityName(req.params.name);
    const faces = await rc.guard(() => gallery.in(DEFAULT_COLLECTION).listFacesOf(name));
    const removed = await rc.guard(() => gallery.removeIdentity(name));
    if (!removed) throw new HttpNotFoundError(`no identity ${JSON.stringify(name)}`);
    await forgetFaces({ ...rc.deps, log: ctx(res).log }, faces);
    res.status(204).end();
  });

  // The name is checked before the upload is read: a bad name costs no bandwidth.
  const nameFirst: express.RequestHandler = (req, _res, next) => {
    parseIdentityName(req.params.name);
    next();
  };
  app.post('/v1/identities/:name/faces', operator, rc.rateLimit, nameFirst, rc.multipart('image'), async (req, res) => {
    const name = parseIdentityName(req.params.name);
    const form = req.body as Record<string, unknown>;
    const largest = parseFlag(form.largest ?? req.query.largest, 'largest');
    const waitSeconds = parseWait(form.wait ?? req.query.wait, config.web.maxWaitSeconds, Math.min(config.web.maxWaitSeconds, rc.tuning.enrollWaitSeconds));
    const settings = (await rc.guard(() => gallery.getCollection(DEFAULT_COLLECTION))) ?? {};
    const record = await submitAndWait(rc, req, res, {
      kind: 'enroll',
      field: 'image',
      options: {
        topK: config.recognition.topK,
        threshold: config.recognition.threshold,
        margin: config.recognition.margin,
        identity: name,
        largest,
        ...enrollQualityOptions((f) => form[f] ?? req.query[f], settings),
      },
      waitSeconds,
    });
    if (!isTerminal(record)) {
      sendAccepted(res, record);
      return;
    }
    if (record.state !== 'done') throw unfinishedJobError(record, record.id);
    const enrolled = enrollmentOf(record);
    res
      .status(201)
      .location(identityPath(name))
      .json({ identity: enrolled?.identity ?? name, faceId: enrolled?.faceId, jobId: record.id, links: { job: jobLink(record.id), identity: identityPath(name) } });
  });
}
