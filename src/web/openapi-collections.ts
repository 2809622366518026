/** The collection routes' part of the OpenAPI document (merged by `openapi.ts`). */
import { collectionQualitySettings, enrollQualityFields, enrollRefusal } from './openapi-quality.js';
import { type Json, callbackAnswer, callbackUrlField, json, problem, ref, security } from './openapi-parts.js';

const errors: Json = {
  '401': problem('No key, or a key that does not verify.'),
  '403': problem('The key lacks the role, or is scoped to other collections.'),
  '404': problem('No such collection (or identity, or face).'),
};
const c: Json = { name: 'c', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' } };
const name: Json = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: "^[A-Za-z0-9 ._'-]{1,64}$" } };
const faceId: Json = { name: 'faceId', in: 'path', required: true, schema: { type: 'string' } };
const items = (schema: string): Json => json({ type: 'object', properties: { items: { type: 'array', items: ref(schema) } } });

export const collectionSchemas: Json = {
  Collection: {
    type: 'object',
    required: ['name', 'identityCount', 'faceCount', 'createdAt'],
    properties: {
      name: { type: 'string' },
      threshold: { type: 'number', description: 'Default distance threshold of recognition in this collection.' },
      minQuality: { type: 'number', description: 'Recognition’s quality minimum here; absent: the service default.' },
      minEnrollQuality: { type: 'number', description: 'Enrollment’s quality minimum here; absent: the service default.' },
      trackUnknowns: { type: 'boolean', description: 'Remember unknown faces as anonymous clusters (docs/unknowns.md). Default false.' },
      unknownRetentionDays: { type: 'integer', description: 'Days a cluster is kept after it was last seen. Default 30.' },
      identityCount: { type: 'integer' },
      faceCount: { type: 'integer' },
      createdAt: { type: 'string', format: 'date-time' },
      links: { type: 'object' },
    },
  },
  Face: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      identity: { type: 'string' },
      collection: { type: 'string' },
      pipeline: { type: 'string' },
      source: { type: 'string' },
      contentHash: { type: 'string', description: 'SHA-256 of the enrolled image bytes.' },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
  FaceEnrolled: {
    type: 'object',
    properties: { face: ref('Face'), existing: { type: 'boolean' }, jobId: { type: 'string' }, links: { type: 'object' }, callback: callbackAnswer },
  },
};

export const collectionPaths: Json = {
  '/v1/collections': {
    get: { summary: 'Collections with their counts (operator; a scoped key sees its own).', security, responses: { '200': { description: 'Collections.', content: items('Collection') }, ...errors } },
    post: {
      summary: 'Create a collection (operator).',
      security,
      requestBody: {
        required: true,
        content: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' }, threshold: { type: 'number', exclusiveMinimum: 0, maximum: 2 }, ...collectionQualitySettings, trackUnknowns: { type: 'boolean' }, unknownRetentionDays: { type: 'integer', minimum: 1, maximum: 3650 } } }),
      },
      responses: { '201': { description: 'Created.', content: json(ref('Collection')) }, '400': problem('Bad name, threshold or quality setting.'), '409': problem('Exists.'), '415': problem('Not JSON.'), ...errors },
    },
  },
  '/v1/collections/{c}': {
    get: { summary: 'One collection with its counts (operator).', security, parameters: [c], responses: { '200': { description: 'The collection.', content: json(ref('Collection')) }, ...errors } },
    patch: {
      summary: 'Change a collection’s settings (operator): a number sets one, null returns it to the service default, an absent field is left as it is.',
      security,
      parameters: [c],
      requestBody: { required: true, content: json({ type: 'object', additionalProperties: false, properties: { threshold: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: 2 }, ...collectionQualitySettings, trackUnknowns: { type: ['boolean', 'null'] }, unknownRetentionDays: { type: ['integer', 'null'], minimum: 1, maximum: 3650 } } }) },
      responses: { '200': { description: 'The collection as changed.', content: json(ref('Collection')) }, '400': problem('Unknown field or bad value.'), '415': problem('Not JSON.'), ...errors },
    },
    delete: {
      summary: 'Remove a collection with its identities, faces, descriptors, unknown clusters and stored face images (operator). `default` cannot be removed.',
      security,
      parameters: [c],
      responses: { '204': { description: 'Removed.' }, '409': problem('The default collection.'), ...errors },
    },
  },
  '/v1/collections/{c}/identities': {
    get: { summary: 'Identities of a collection (operator).', security, parameters: [c], responses: { '200': { description: 'Identities.', content: items('Identity') }, ...errors } },
    post: {
      summary: 'Create an identity in a collection (operator).',
      security,
      parameters: [c],
      requestBody: { required: true, content: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }) },
      responses: { '201': { description: 'Created.', content: json(ref('Identity')) }, '400': problem('Bad name.'), '409': problem('Exists.'), ...errors },
    },
  },
  '/v1/collections/{c}/identities/{name}': {
    get: { summary: 'One identity (operator).', security, parameters: [c, name], responses: { '200': { description: 'The identity.', content: json(ref('Identity')) }, ...errors } },
    delete: { summary: 'Remove an identity, its faces and their stored images (operator).', security, parameters: [c, name], responses: { '204': { description: 'Removed.' }, ...errors } },
  },
  '/v1/collections/{c}/identities/{name}/faces': {
    get: { summary: 'Faces of an identity, without descriptors (operator).', security, parameters: [c, name], responses: { '200': { description: 'Faces.', content: items('Face') }, ...errors } },
    post: {
      summary: 'Enroll a face (operator): an `enroll` job in the collection. 404 for a missing identity unless `create=true`; the same image bytes again answer 200 with the existing face.',
      security,
      parameters: [c, name, { name: 'create', in: 'query', required: false, schema: { type: 'boolean' } }],
      requestBody: {
        required: true,
        content: { 'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' }, create: { type: 'boolean' }, largest: { type: 'boolean' }, wait: { type: 'number' }, ...callbackUrlField, ...enrollQualityFields } } } },
      },
      responses: {
        '200': { description: 'These bytes were already enrolled for the identity.', content: json(ref('FaceEnrolled')) },
        '201': { description: 'Enrolled.', content: json(ref('FaceEnrolled')) },
        '202': { description: 'Still running after the wait.', content: json(ref('Accepted')) },
        '422': problem(enrollRefusal),
        ...errors,
      },
    },
  },
  '/v1/collections/{c}/identities/{name}/faces/{faceId}': {
    delete: { summary: 'Remove one face and its stored image (operator).', security, parameters: [c, name, faceId], responses: { '204': { description: 'Removed.' }, ...errors } },
  },
};
