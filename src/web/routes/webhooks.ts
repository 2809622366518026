import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import type { WebhookEndpoint } from '../../store/ports.js';
import { isWebhookEvent, WEBHOOK_EVENTS } from '../../webhooks/events.js';
import { newWebhookSecret } from '../../webhooks/signature.js';
import { ctx } from '../context.js';
import { BadRequestError, HttpNotFoundError } from '../errors.js';
import { parseCollectionName, requireCollection, requireJobAccess } from '../collection-access.js';
import { jobView } from '../../jobs/view.js';
import { parseJobId } from '../params.js';
import type { RouteContext } from '../route-context.js';
import { parseWebhookUrl, webhookPolicy } from '../webhook-url.js';
import { collectionPath } from './collections.js';
import { jsonBody } from './identities.js';

const ENDPOINT_ID = /^wh_[0-9a-f]{24}$/;

function webhookPath(e: Pick<WebhookEndpoint, 'collection' | 'id'>): string {
  return `${collectionPath(e.collection)}/webhooks/${e.id}`;
}

/** An endpoint as the API shows it: never its secret. */
function endpointView(e: WebhookEndpoint) {
  return {
    id: e.id,
    collection: e.collection,
    url: e.url,
    events: e.events,
    createdAt: e.createdAt,
    state: e.disabled ? ('disabled' as const) : ('enabled' as const),
    ...(e.disabled ? { disabled: e.disabled } : {}),
    links: { self: webhookPath(e) },
  };
}

function parseEvents(raw: unknown): string[] {
  const valid = Array.isArray(raw) && raw.length > 0 && raw.every(isWebhookEvent);
  if (!valid) throw new BadRequestError(`events must be a non-empty list of ${WEBHOOK_EVENTS.join(', ')}`, { code: 'bad-webhook-events' });
  return [...new Set(raw as string[])];
}

function parseEndpointId(raw: unknown): string {
  if (typeof raw !== 'string' || !ENDPOINT_ID.test(raw)) throw new HttpNotFoundError('no such webhook');
  return raw;
}

/**
 * `/v1/collections/:c/webhooks` (operator role): register an endpoint (`{url, events}`; the answer
 * carries the signing secret, once), list them, show one, enable or disable one (`PATCH
 * {enabled}`), remove one. Deliveries are jobs of kind `webhook` (see docs/webhooks.md).
 */
export function registerWebhookRoutes(app: Express, rc: RouteContext): void {
  const { webhooks } = rc.deps;
  const operator = rc.auth.requireRole('operator');
  const policy = webhookPolicy(rc.deps.config.webhooks.allow);
  const base = '/v1/collections/:c/webhooks';

  app.post(base, operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const collection = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new BadRequestError('send {"url": "https://...", "events": ["job.done"]}', { code: 'bad-body' });
    }
    const { url: rawUrl, events: rawEvents } = body as { url?: unknown; events?: unknown };
    const events = parseEvents(rawEvents);
    const url = parseWebhookUrl(policy, rawUrl);
    const endpoint: WebhookEndpoint = {
      id: `wh_${randomBytes(12).toString('hex')}`,
      collection: collection.name,
      url,
      events,
      secret: newWebhookSecret(),
      createdAt: new Date().toISOString(),
    };
    await rc.guard(() => webhooks.create(endpoint));
    ctx(res).log.info({ webhookId: endpoint.id, collection: endpoint.collection, events }, 'webhook registered');
    res.status(201).location(webhookPath(endpoint)).json({ ...endpointView(endpoint), secret: endpoint.secret });
  });

  app.get(base, operator, rc.rateLimit, async (req, res) => {
    const collection = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const all = await rc.guard(() => webhooks.list(collection.name));
    res.json({ items: all.map(endpointView) });
  });

  app.get(`${base}/:id`, operator, rc.rateLimit, async (req, res) => {
    const collection = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const endpoint = await rc.guard(() => webhooks.get(collection.name, parseEndpointId(req.params.id)));
    if (!endpoint) throw new HttpNotFoundError('no such webhook');
    res.json(endpointView(endpoint));
  });

  // A finished job's deliveries, each with its attempts: where an operator sees how its webhooks went.
  app.get('/v1/jobs/:id/webhooks', operator, rc.rateLimit, async (req, res) => {
    const id = parseJobId(req.params.id);
    const record = await rc.guard(() => rc.deps.jobs.get(id));
    if (!record || !rc.deps.publisher) throw new HttpNotFoundError(`no job ${id}`);
    requireJobAccess(res, record);
    const found = await rc.guard(() => rc.deps.publisher!.deliveriesOf(record));
    res.json({ items: found.map((f) => ({ ...jobView(f.delivery), ...(f.endpointId ? { endpointId: f.endpointId } : { callback: true }) })) });
  });

  // Enable a disabled endpoint (after a 410, once the receiver is back), or disable one.
  // Dead-lettered deliveries are not replayed by this; the dead-letter tools do that.
  app.patch(`${base}/:id`, operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const collection = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const id = parseEndpointId(req.params.id);
    const body = req.body as { enabled?: unknown } | null;
    if (!body || typeof body !== 'object' || typeof body.enabled !== 'boolean') throw new BadRequestError('send {"enabled": true} or {"enabled": false}', { code: 'bad-body' });
    const current = await rc.guard(() => webhooks.get(collection.name, id));
    if (!current) throw new HttpNotFoundError('no such webhook');
    // Disabling a disabled endpoint keeps its first reason (a 410 stays visible).
    const wanted = body.enabled ? null : (current.disabled ?? { at: new Date().toISOString(), reason: 'operator' as const });
    const updated = await rc.guard(() => webhooks.setDisabled(collection.name, id, wanted));
    if (!updated) throw new HttpNotFoundError('no such webhook');
    ctx(res).log.info({ webhookId: id, collection: collection.name, enabled: body.enabled }, body.enabled ? 'webhook enabled' : 'webhook disabled');
    res.json(endpointView(updated));
  });

  app.delete(`${base}/:id`, operator, rc.rateLimit, async (req, res) => {
    const collection = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const id = parseEndpointId(req.params.id);
    const removed = await rc.guard(() => webhooks.delete(collection.name, id));
    if (!removed) throw new HttpNotFoundError('no such webhook');
    ctx(res).log.info({ webhookId: id, collection: collection.name }, 'webhook removed');
    res.status(204).end();
  });
}
