import type { Express } from 'express';
import { ctx } from '../context.js';
import { BadRequestError, HttpNotFoundError } from '../errors.js';
import { createApiKey, isRole, listApiKeys, revokeApiKey } from '../keys.js';
import type { RouteContext } from '../route-context.js';
import { jsonBody } from './identities.js';

const KEY_ID = /^[0-9a-f]{16}$/;
const KEY_NAME = /^[\p{L}\p{N} ._'@-]{1,64}$/u;

/** Validate `{role, name?}`, else 400. */
export function parseKeyBody(body: unknown): { role: 'client' | 'operator'; name?: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('send {"role": "client" | "operator", "name": "..."}', { code: 'bad-key' });
  const { role, name } = body as Record<string, unknown>;
  if (!isRole(role)) throw new BadRequestError('role must be client or operator', { code: 'bad-key' });
  if (name === undefined || name === '') return { role };
  if (typeof name !== 'string' || !KEY_NAME.test(name)) {
    throw new BadRequestError("name must be 1 to 64 letters, digits, spaces or . _ ' @ -", { code: 'bad-key' });
  }
  return { role, name };
}

/**
 * `GET /v1/me` (any key: what it may do; the console hides the rest), and API key management
 * for operators: `GET /v1/keys`, `POST /v1/keys` (the key is in the answer, once),
 * `DELETE /v1/keys/:id`. The same operations as `facefleet keys`.
 */
export function registerKeyRoutes(app: Express, rc: RouteContext): void {
  const { keys } = rc.deps;
  const operator = rc.auth.requireRole('operator');

  app.get('/v1/me', rc.auth.requireRole('client'), rc.rateLimit, (_req, res) => {
    const principal = ctx(res).principal;
    res.setHeader('Cache-Control', 'no-store');
    res.json({ role: principal?.role ?? 'operator', auth: principal?.keyId !== undefined, ...(principal?.keyId ? { keyId: principal.keyId } : {}) });
  });

  app.get('/v1/keys', operator, rc.rateLimit, async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items: await rc.guard(() => listApiKeys(keys)) });
  });

  app.post('/v1/keys', operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const { role, name } = parseKeyBody(req.body);
    const created = await rc.guard(() => createApiKey(keys, { role, ...(name ? { name } : {}) }));
    ctx(res).log.info({ createdKeyId: created.id, role }, 'API key created');
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ id: created.id, key: created.key, role, ...(name ? { name } : {}) });
  });

  app.delete('/v1/keys/:id', operator, rc.rateLimit, async (req, res) => {
    const id = req.params.id;
    if (typeof id !== 'string' || !KEY_ID.test(id)) throw new BadRequestError('a key id is 16 hex characters', { code: 'bad-key-id' });
    const revoked = await rc.guard(() => revokeApiKey(keys, id));
    if (!revoked) throw new HttpNotFoundError(`no key ${id}`);
    ctx(res).log.info({ revokedKeyId: id }, 'API key revoked');
    res.status(204).end();
  });
}
