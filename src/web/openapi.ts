/**
 * The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.json`. A test walks
 * express's router and this document and fails when a route is missing from either, so keep
 * them in step.
 */
import { collectionPaths, collectionSchemas } from './openapi-collections.js';
import { webhookPaths, webhookSchemas } from './openapi-webhooks.js';
import { enrollQualityFields, enrollRefusal, qualitySchemas, recognizeQualityFields } from './openapi-quality.js';
import { unknownPaths, unknownSchemas } from './openapi-unknowns.js';
import { withConsolePaths } from './openapi-console.js';
import { type Json, json, problem, ref } from './openapi-parts.js';

const commonErrors: Json = {
  '401': problem('Missing or invalid API key.'),
  '403': problem('The key has the wrong role.'),
  '429': problem('Rate limited; see Retry-After.'),
  '503': problem('A store or the queue is unavailable, or its circuit breaker is open; see Retry-After.'),
};
const uploadErrors: Json = {
  '400': problem('Malformed multipart, missing file, bad parameter, or an empty file (`empty-image`).'),
  '413': problem('The upload is larger than the limit (`file-too-large`), or decodes to too many pixels (`too-many-pixels`).'),
  '415': problem('Not multipart (`not-multipart`), not an image (`not-an-image`), an unsupported format such as SVG (`unsupported-format`), or an animated image (`animated-image`).'),
  '422': problem('A truncated or corrupt image (`truncated-image`).'),
};
const waitParam: Json = { name: 'wait', in: 'query', required: false, description: 'Seconds to wait, 0..60 (the form field wins).', schema: { type: 'number', minimum: 0, maximum: 60 } };
const jobId: Json = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const identityName: Json = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: "^[A-Za-z0-9 ._'-]{1,64}$" } };
const paging: Json[] = [
  { name: 'cursor', in: 'query', required: false, schema: { type: 'string' } },
  { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
];
const multipart = (fileField: string, extra: Json = {}): Json => ({
  required: true,
  content: {
    'multipart/form-data': {
      schema: { type: 'object', required: [fileField], properties: { [fileField]: { type: 'string', format: 'binary' }, ...extra } },
    },
  },
});
const client = [{ bearer: [] }, { apiKey: [] }];

const schemas: Json = {
  Problem: {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'requestId'],
    properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, requestId: { type: 'string' } },
  },
  Accepted: {
    type: 'object',
    required: ['id', 'state', 'links'],
    properties: { id: { type: 'string', format: 'uuid' }, state: { type: 'string' }, links: { type: 'object', properties: { self: { type: 'string' } } } },
  },
  JobView: {
    type: 'object',
    required: ['id', 'kind', 'state', 'createdAt', 'updatedAt', 'attempts', 'maxAttempts', 'history'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      kind: { enum: ['recognize', 'enroll', 'recluster'] },
      state: { enum: ['uploaded', 'queued', 'processing', 'done', 'dead-lettered'] },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      attempts: { type: 'integer' },
      maxAttempts: { type: 'integer' },
      result: {
        type: 'object',
        description: '{width, height, faces, enrolled?, refused?}; each face a RecognizedFace, whose `reason` says why `match` is null. `refused` (enroll): `{reason, faces, message, quality?, minEnrollQuality?}`.',
        properties: { width: { type: 'integer' }, height: { type: 'integer' }, faces: { type: 'array', items: ref('RecognizedFace') }, enrolled: { type: 'object' }, refused: { type: 'object' } },
      },
      error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, retryable: { type: 'boolean' } } },
      deadLetterReason: { type: 'string' },
      history: { type: 'array', items: { type: 'object' } },
    },
  },
  JobPage: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('JobView') }, cursor: { type: 'string' } } },
  Identity: {
    type: 'object',
    required: ['name', 'faceCount', 'createdAt'],
    properties: { name: { type: 'string' }, faceCount: { type: 'integer' }, createdAt: { type: 'string', format: 'date-time' } },
  },
  Enrolled: {
    type: 'object',
    properties: { identity: { type: 'string' }, faceId: { type: 'string' }, jobId: { type: 'string', format: 'uuid' }, links: { type: 'object' } },
  },
  DeadLetter: {
    type: 'object',
    required: ['id', 'reason', 'attempts', 'at'],
    properties: { id: { type: 'string' }, reason: { type: 'string' }, attempts: { type: 'integer' }, lastError: { type: 'object' }, at: { type: 'string' } },
  },
  ReplayRequest: {
    oneOf: [
      { type: 'object', required: ['ids'], properties: { ids: { type: 'array', items: { type: 'string', format: 'uuid' }, minItems: 1, maxItems: 1000 }, dryRun: { type: 'boolean' } } },
      { type: 'object', required: ['all'], properties: { all: { const: true }, dryRun: { type: 'boolean' } } },
      { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 200 }, dryRun: { type: 'boolean' } } },
    ],
  },
  ReplayReport: {
    type: 'object',
    properties: {
      matched: { type: 'integer' },
      replayed: { type: 'integer' },
      skipped: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' } } } },
      notFound: { type: 'array', items: { type: 'string' } },
      failed: { type: 'array', items: { type: 'object' } },
      dryRun: { type: 'boolean' },
      aborted: { type: 'boolean' },
    },
  },
};

const paths: Json = {
  '/': {
    post: {
      summary: 'Classic protocol: upload and wait; answers `<basename>:<name>` (name, `unknown` or `no-face`).',
      security: client,
      requestBody: multipart('inputFile'),
      responses: {
        '200': { description: 'The largest face’s identity.', content: { 'text/plain': { schema: { type: 'string', example: 'test_000:Paul' } } } },
        '502': problem('The job failed.'),
        '504': problem('The job did not finish within the classic timeout.'),
        ...uploadErrors,
        ...commonErrors,
      },
    },
  },
  '/v1/jobs': {
    post: {
      summary: 'Submit an image as a recognition job; with `wait`, answer the finished job when it finishes in time.',
      security: client,
      parameters: [waitParam],
      requestBody: multipart('image', {
        wait: { type: 'number', minimum: 0, maximum: 60 },
        topK: { type: 'integer', minimum: 1, maximum: 100 },
        threshold: { type: 'number', exclusiveMinimum: 0, maximum: 2 },
        collection: { type: 'string', description: 'The collection to match against (the query parameter works too); default `default`.' },
        margin: { type: 'number', minimum: 0, exclusiveMaximum: 2 },
        callbackUrl: {
          type: 'string',
          format: 'uri',
          description: 'Called with `job.done` or `job.dead-lettered` when the job ends (Standard Webhooks); the host must be in FACEFLEET_WEBHOOK_ALLOW. The answer carries `callback.secret`, once.',
        },
        ...recognizeQualityFields,
      }),
      responses: {
        '200': { description: 'The job reached a terminal state within the wait.', content: json(ref('JobView')) },
        '202': { description: 'Accepted and queued; poll `Location`.', content: json(ref('Accepted')) },
        ...uploadErrors,
        ...commonErrors,
      },
    },
    get: {
      summary: 'List jobs in a state (operator).',
      security: client,
      parameters: [{ name: 'state', in: 'query', required: true, schema: { enum: ['uploaded', 'queued', 'processing', 'done', 'dead-lettered'] } }, ...paging],
      responses: { '200': { description: 'A page of jobs.', content: json(ref('JobPage')) }, '400': problem('Bad state or paging.'), ...commonErrors },
    },
  },
  '/v1/jobs/{id}': {
    get: {
      summary: 'A job; with `wait`, long-poll until it is terminal or the wait runs out.',
      security: client,
      parameters: [jobId, waitParam],
      responses: {
        '200': { description: 'The job.', content: json(ref('JobView')) },
        '400': problem('Malformed id or wait.'),
        '404': problem('No such job, or it was deleted while waiting.'),
        ...commonErrors,
      },
    },
    delete: {
      summary: 'Delete a job: its input image, its result and its record (operator). A long-poll on it then answers 404.',
      security: client,
      parameters: [jobId],
      responses: {
        '204': { description: 'Deleted.' },
        '400': problem('Malformed id.'),
        '404': problem('No such job.'),
        ...commonErrors,
      },
    },
  },
  '/v1/identities': {
    get: { summary: 'List identities (operator).', security: client, responses: { '200': { description: 'Identities.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('Identity') } } }) }, ...commonErrors } },
    post: {
      summary: 'Create an identity (operator).',
      security: client,
      requestBody: { required: true, content: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }) },
      responses: { '201': { description: 'Created.', content: json(ref('Identity')) }, '400': problem('Bad name.'), '409': problem('Exists.'), '415': problem('Not JSON.'), ...commonErrors },
    },
  },
  '/v1/identities/{name}': {
    get: { summary: 'One identity (operator).', security: client, parameters: [identityName], responses: { '200': { description: 'The identity.', content: json(ref('Identity')) }, '404': problem('No such identity.'), ...commonErrors } },
    delete: { summary: 'Remove an identity and its faces (operator).', security: client, parameters: [identityName], responses: { '204': { description: 'Removed.' }, '404': problem('No such identity.'), ...commonErrors } },
  },
  '/v1/identities/{name}/faces': {
    post: {
      summary: 'Enroll a face from an image (operator); runs an `enroll` job and waits for it.',
      security: client,
      parameters: [identityName, waitParam],
      requestBody: multipart('image', { largest: { type: 'boolean' }, wait: { type: 'number', minimum: 0, maximum: 60 }, ...enrollQualityFields }),
      responses: {
        '201': { description: 'Enrolled.', content: json(ref('Enrolled')) },
        '202': { description: 'Still running after the wait.', content: json(ref('Accepted')) },
        '422': problem(`${enrollRefusal} Or a truncated image.`),
        '502': problem('The job failed.'),
        ...uploadErrors,
        ...commonErrors,
      },
    },
  },
  '/v1/dead-letters': {
    get: {
      summary: 'Dead-lettered jobs with their reasons (operator).',
      security: client,
      parameters: [{ name: 'reason', in: 'query', required: false, schema: { type: 'string' } }, { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' } }, ...paging],
      responses: { '200': { description: 'A page.', content: json({ type: 'object', properties: { items: { type: 'array', items: ref('DeadLetter') }, cursor: { type: 'string' } } }) }, '400': problem('Bad filter.'), ...commonErrors },
    },
  },
  '/v1/dead-letters/replay': {
    post: {
      summary: 'Replay dead-lettered jobs by ids, all, or reason (operator).',
      security: client,
      requestBody: { required: true, content: json(ref('ReplayRequest')) },
      responses: {
        '200': { description: 'What was replayed.', content: json(ref('ReplayReport')) },
        '400': problem('Bad selector.'),
        '404': problem('A single given id does not exist.'),
        '409': problem('A single given id is not dead-lettered; the problem carries its `state`.'),
        ...commonErrors,
      },
    },
  },
  '/healthz': { get: { summary: 'The process is alive.', responses: { '200': { description: 'Alive.' } } } },
  '/readyz': { get: { summary: 'Every store and the queue answer and the breaker is not open.', responses: { '200': { description: 'Ready.' }, '503': problem('Not ready: the failing dependencies and breaker state.') } } },
  '/metrics': { get: { summary: 'Prometheus metrics.', responses: { '200': { description: 'Text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
  '/openapi.json': { get: { summary: 'This document.', responses: { '200': { description: 'OpenAPI 3.1.', content: json({ type: 'object' }) } } } },
};

/** The document; every call returns a fresh object. */
export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'facefleet',
      version: '0.1.0',
      description:
        'Face recognition as durable jobs. Errors are application/problem+json. Roles: `client` submits, polls and uses the classic protocol; `operator` may also manage identities, dead letters and job listings. Health, readiness, metrics and this document need no key.',
    },
    paths: structuredClone(withConsolePaths({ ...paths, ...collectionPaths, ...webhookPaths, ...unknownPaths })),
    components: {
      schemas: structuredClone({ ...schemas, ...collectionSchemas, ...webhookSchemas, ...qualitySchemas, ...unknownSchemas }),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
    },
  };
}
