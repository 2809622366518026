/** The unknown-cluster routes' part of the OpenAPI document (merged by `openapi.ts`; docs/unknowns.md). */
import { type Json, json, problem, ref, security } from './openapi-parts.js';

const errors: Json = {
  '400': problem('A malformed id or parameter.'),
  '401': problem('No key, or a key that does not verify.'),
  '403': problem('The key lacks the role, or is scoped to other collections.'),
  '404': problem('No such collection or cluster.'),
};
const c: Json = { name: 'c', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' } };
const id: Json = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^unk_[a-z0-9]{20}$' } };
const query = (name: string, schema: Json): Json => ({ name, in: 'query', required: false, schema });

export const unknownSchemas: Json = {
  UnknownCluster: {
    type: 'object',
    required: ['id', 'collection', 'state', 'sightings', 'firstSeen', 'lastSeen'],
    properties: {
      id: { type: 'string' },
      collection: { type: 'string' },
      state: { enum: ['open', 'named'] },
      identity: { type: 'string', description: 'Set once named: the identity it became.' },
      sightings: { type: 'integer' },
      firstSeen: { type: 'string', format: 'date-time' },
      lastSeen: { type: 'string', format: 'date-time' },
      recent: { type: 'array', items: { type: 'object' }, description: 'Recent sightings (job id, time, box), newest first; in the single-cluster answer.' },
      links: { type: 'object' },
    },
  },
};

export const unknownPaths: Json = {
  '/v1/collections/{c}/unknowns': {
    get: {
      summary: 'Open unknown clusters, oldest first (operator).',
      security,
      parameters: [c, query('minSightings', { type: 'integer', minimum: 0 }), query('since', { type: 'string', format: 'date-time' }), query('cursor', { type: 'string' }), query('limit', { type: 'integer', minimum: 1, maximum: 1000 })],
      responses: { '200': { description: 'Clusters.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('UnknownCluster') }, cursor: { type: 'string' } } }) }, ...errors },
    },
  },
  '/v1/collections/{c}/unknowns/{id}': {
    get: {
      summary: 'One cluster with its recent sightings (operator). An id merged into another cluster (by recluster or an operator) redirects to that cluster.',
      security,
      parameters: [c, id],
      responses: { '200': { description: 'The cluster.', content: json(ref('UnknownCluster')) }, '308': { description: 'Merged: `Location` is the cluster it was merged into.' }, ...errors },
    },
    delete: { summary: 'Forget a cluster: its descriptors, thumbnails and sightings (operator).', security, parameters: [c, id], responses: { '204': { description: 'Forgotten.' }, ...errors } },
  },
  '/v1/collections/{c}/unknowns/{id}/thumbnails/{n}': {
    get: {
      summary: "A representative's 112 px JPEG (operator).",
      security,
      parameters: [c, id, { name: 'n', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } }],
      responses: { '200': { description: 'The thumbnail.', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } }, ...errors },
    },
  },
  '/v1/collections/{c}/unknowns/{id}/name': {
    post: {
      summary: "Name a cluster: its representatives become faces of the identity (of this collection; `create` makes it); the cluster ends (operator).",
      security,
      parameters: [c, id],
      requestBody: { required: true, content: json({ type: 'object', required: ['identity'], properties: { identity: { type: 'string' }, create: { type: 'boolean' } } }) },
      responses: { '200': { description: 'Named.', content: json(ref('UnknownCluster')) }, '409': problem('Already named.'), ...errors },
    },
  },
  '/v1/collections/{c}/unknowns/merge': {
    post: {
      summary: 'Merge clusters into the oldest of them (operator).',
      security,
      parameters: [c],
      requestBody: { required: true, content: json({ type: 'object', required: ['ids'], properties: { ids: { type: 'array', minItems: 2, maxItems: 100, items: { type: 'string' } } } }) },
      responses: { '200': { description: 'The merged cluster.', content: json(ref('UnknownCluster')) }, '409': problem('A named cluster.'), ...errors },
    },
  },
  '/v1/collections/{c}/unknowns/recluster': {
    post: { summary: 'Queue a recluster job for the collection (operator).', security, parameters: [c], responses: { '202': { description: 'The job.', content: json({ type: 'object' }) }, ...errors } },
  },
  '/v1/collections/{c}/search': {
    post: {
      summary: 'Seen before? The nearest identities and unknown clusters of each face, read-only, answered through the fleet (operator).',
      security,
      parameters: [c],
      requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' }, topK: { type: 'integer' }, wait: { type: 'number' } } } } } },
      responses: { '200': { description: 'The faces with their nearest identities and clusters.', content: json({ type: 'object' }) }, '422': problem('The image cannot be used.'), '504': problem('No worker answered in time.'), ...errors },
    },
  },
};
