/** The small builders every part of the OpenAPI document (`openapi*.ts`) is written with. */
export type Json = Record<string, unknown>;

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: Json): Json => ({ 'application/json': { schema } });
/** An error answer: `application/problem+json` with the Problem schema. */
export const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
/** Either way of sending a key. */
export const security = [{ bearer: [] }, { apiKey: [] }];

/** The `callbackUrl` field of a job-submitting route (recognition and enrollment jobs). */
export const callbackUrlField: Json = {
  callbackUrl: {
    type: 'string',
    format: 'uri',
    description:
      'Called with `job.done` or `job.dead-lettered` when the job ends (Standard Webhooks); the host must be in FACEFLEET_WEBHOOK_ALLOW (422 otherwise, 409 when webhooks are off). The answer carries `callback.secret`, once, whatever the outcome (in the problem body too).',
  },
};

/** The job's own webhook in a submit answer: its signing secret, shown only here. */
export const callbackAnswer: Json = {
  type: 'object',
  description: 'Present when the request had a `callbackUrl`.',
  properties: { url: { type: 'string', format: 'uri' }, secret: { type: 'string', description: 'The Standard Webhooks signing secret (`whsec_...`).' } },
};
