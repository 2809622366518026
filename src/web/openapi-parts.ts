/** The small builders every part of the OpenAPI document (`openapi*.ts`) is written with. */
export type Json = Record<string, unknown>;

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: Json): Json => ({ 'application/json': { schema } });
/** An error answer: `application/problem+json` with the Problem schema. */
export const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
/** Either way of sending a key. */
export const security = [{ bearer: [] }, { apiKey: [] }];
