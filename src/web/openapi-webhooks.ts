/** The webhook routes' part of the OpenAPI document (merged by `openapi.ts`). */
import { type Json, json, problem, ref, security } from './openapi-parts.js';

const errors: Json = {
  '401': problem('No key, or a key that does not verify.'),
  '403': problem('The key lacks the operator role, or is scoped to other collections.'),
  '404': problem('No such collection or webhook.'),
};
const c: Json = { name: 'c', in: 'path', required: true, schema: { type: 'string' } };
const id: Json = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^wh_[0-9a-f]{24}$' } };

export const webhookSchemas: Json = {
  Webhook: {
    type: 'object',
    required: ['id', 'collection', 'url', 'events', 'createdAt', 'state'],
    properties: {
      id: { type: 'string' },
      collection: { type: 'string' },
      url: { type: 'string', format: 'uri' },
      events: { type: 'array', items: { enum: ['job.done', 'job.dead-lettered', 'unknown.created'] } },
      createdAt: { type: 'string', format: 'date-time' },
      state: { enum: ['enabled', 'disabled'], description: 'A disabled endpoint gets no new deliveries, and its pending ones are skipped, until it is enabled with PATCH.' },
      disabled: {
        type: 'object',
        description: 'Why and when it was disabled (only when `state` is `disabled`).',
        required: ['at', 'reason'],
        properties: {
          at: { type: 'string', format: 'date-time' },
          reason: { enum: ['gone', 'operator'], description: '`gone`: the receiver answered 410 Gone to a delivery; `operator`: disabled with PATCH.' },
          status: { type: 'integer', description: 'The receiver’s status, for `gone`.' },
          deliveryId: { type: 'string', format: 'uuid', description: 'The delivery job that got the 410, for `gone`.' },
        },
      },
      secret: { type: 'string', description: 'The Standard Webhooks signing secret (`whsec_...`). Only in the answer to the registration.' },
      links: { type: 'object' },
    },
  },
};

export const webhookPaths: Json = {
  '/v1/collections/{c}/webhooks': {
    get: { summary: 'Webhook endpoints of a collection, without their secrets (operator).', security, parameters: [c], responses: { '200': { description: 'Endpoints.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('Webhook') } } }) }, ...errors } },
    post: {
      summary: 'Register a webhook endpoint (operator). The answer carries the signing secret, once. The host must be in FACEFLEET_WEBHOOK_ALLOW.',
      security,
      parameters: [c],
      requestBody: { required: true, content: json({ type: 'object', required: ['url', 'events'], properties: { url: { type: 'string', format: 'uri' }, events: { type: 'array', minItems: 1, items: { enum: ['job.done', 'job.dead-lettered', 'unknown.created'] } } } }) },
      responses: {
        '201': { description: 'Registered.', content: json(ref('Webhook')) },
        '400': problem('Bad url or events.'),
        '409': problem('Webhooks are disabled (FACEFLEET_WEBHOOK_ALLOW is empty).'),
        '415': problem('Not JSON.'),
        '422': problem('The host or address is not allowed.'),
        ...errors,
      },
    },
  },
  '/v1/jobs/{id}/webhooks': {
    get: {
      summary: "A finished job's webhook deliveries, each a job of kind `webhook` with its attempts in `history` (operator).",
      security,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      responses: { '200': { description: 'Deliveries.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('JobView') } } }) }, ...errors },
    },
  },
  '/v1/collections/{c}/webhooks/{id}': {
    get: { summary: 'One webhook endpoint, without its secret (operator).', security, parameters: [c, id], responses: { '200': { description: 'The endpoint.', content: json(ref('Webhook')) }, ...errors } },
    patch: {
      summary: 'Enable a disabled webhook endpoint (after a 410 Gone, once the receiver is back), or disable one (operator). Dead-lettered deliveries are replayed with the dead-letter tools.',
      security,
      parameters: [c, id],
      requestBody: { required: true, content: json({ type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' } } }) },
      responses: { '200': { description: 'The endpoint as it now is.', content: json(ref('Webhook')) }, '400': problem('No boolean `enabled`.'), '415': problem('Not JSON.'), ...errors },
    },
    delete: { summary: 'Remove a webhook endpoint; its pending deliveries end with nothing sent (operator).', security, parameters: [c, id], responses: { '204': { description: 'Removed.' }, ...errors } },
  },
};
