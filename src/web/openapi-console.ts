/**
 * The OpenAPI paths of the console and the routes it needs (`routes/console.ts`), kept apart
 * from `openapi.ts` and merged into it path by path.
 */
import { type Json, json, problem, security } from './openapi-parts.js';

const errors: Json = { '401': problem('No or bad API key.'), '403': problem('The key’s role may not do this.') };
const name: Json = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: "^[A-Za-z0-9 ._'-]{1,64}$" } };
const image = (type: string): Json => ({ [type]: { schema: { type: 'string', format: 'binary' } } });
const html = { 'text/html': { schema: { type: 'string' } } };

const consolePaths: Json = {
  '/': { get: { summary: 'A browser (`Accept: text/html`) is redirected to the console; anything else gets 404.', responses: { '302': { description: 'To `/console/`.' }, '404': problem('Not a browser.') } } },
  '/console': { get: { summary: 'Redirects to `/console/`.', responses: { '301': { description: 'To `/console/`.' } } } },
  '/console/': { get: { summary: 'The web console (static files; strict Content-Security-Policy).', responses: { '200': { description: 'The console.', content: html }, '503': problem('The console was not built.') } } },
  '/v1/me': {
    get: { summary: 'The presented key’s role (operator when auth is off).', security, responses: { '200': { description: 'The role.', content: json({ type: 'object', properties: { role: { enum: ['client', 'operator'] }, auth: { type: 'boolean' }, keyId: { type: 'string' } } }) }, ...errors } },
  },
  '/v1/keys': {
    get: { summary: 'API keys, without secrets (operator).', security, responses: { '200': { description: 'Keys.', content: json({ type: 'object' }) }, ...errors } },
    post: {
      summary: 'Create an API key (operator); the key is in this answer only.',
      security,
      requestBody: { required: true, content: json({ type: 'object', required: ['role'], properties: { role: { enum: ['client', 'operator'] }, name: { type: 'string', maxLength: 64 } } }) },
      responses: { '201': { description: 'Created.', content: json({ type: 'object', properties: { id: { type: 'string' }, key: { type: 'string' }, role: { type: 'string' } } }) }, '400': problem('Bad role or name.'), ...errors },
    },
  },
  '/v1/keys/{id}': {
    delete: { summary: 'Revoke an API key (operator).', security, parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } }], responses: { '204': { description: 'Revoked.' }, '400': problem('Bad id.'), '404': problem('No such key.'), ...errors } },
  },
  '/v1/fleet': {
    get: { summary: 'Queue depth, jobs by state, workers busy and idle, scaler and breaker states: one sample (operator).', security, responses: { '200': { description: 'The sample.', content: json({ type: 'object' }) }, ...errors } },
  },
  '/v1/identities/{name}/faces': {
    get: { summary: 'An identity’s faces, without descriptors (operator).', security, parameters: [name], responses: { '200': { description: 'Faces.', content: json({ type: 'object' }) }, '404': problem('No such identity.'), ...errors } },
  },
  '/v1/identities/{name}/faces/{faceId}/thumbnail': {
    get: {
      summary: 'The face’s thumbnail, stored at enrollment (operator).',
      security,
      parameters: [name, { name: 'faceId', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'A small JPEG.', content: image('image/jpeg') }, '404': problem('No such face of this identity, or no thumbnail.'), ...errors },
    },
  },
  '/v1/collections/{c}/identities/{name}/faces/{faceId}/thumbnail': {
    get: {
      summary: 'The face’s thumbnail in a collection, stored at enrollment (operator).',
      security,
      parameters: [{ name: 'c', in: 'path', required: true, schema: { type: 'string' } }, name, { name: 'faceId', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'A small JPEG.', content: image('image/jpeg') }, '404': problem('No such collection, face of this identity, or thumbnail.'), ...errors },
    },
  },
  '/v1/jobs/{id}/image': {
    get: {
      summary: 'The job’s input image while it is retained (the key that submitted the job, or an operator).',
      security,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      responses: { '200': { description: 'The image as uploaded.', content: image('image/*') }, '404': problem('No such job, or its image is no longer retained.'), ...errors },
    },
  },
};

/** `paths` with the console's operations added (an existing path keeps its other methods). */
export function withConsolePaths(paths: Json): Json {
  const out: Json = { ...paths };
  for (const [p, ops] of Object.entries(consolePaths)) out[p] = { ...((paths[p] as Json | undefined) ?? {}), ...(ops as Json) };
  return out;
}
