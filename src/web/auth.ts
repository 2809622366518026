import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { ApiKeyRecord, KeyStore, Role } from '../store/ports.js';
import { ctx } from './context.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import { verifyApiKey } from './keys.js';

/** What each role may do: an operator may do everything a client may. */
const GRANTS: Record<Role, readonly Role[]> = { client: ['client'], operator: ['client', 'operator'] };

/** Dependencies of {@link createAuth}. */
export interface AuthOptions {
  keys: KeyStore;
  /** Read per request: `start()` decides it from the bound address. */
  enabled: () => boolean;
  /** How long a verified key is trusted without re-checking the store (revocation delay). Default 10 s. */
  cacheTtlMs?: number;
  /** Wraps the key store lookup (the circuit breaker). */
  guard?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The key from `Authorization: Bearer <key>` or `x-api-key`, or undefined. */
export function presentedKey(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : '';
  }
  return req.get('x-api-key') ?? undefined;
}

/**
 * `requireRole(role)` middleware. With auth off every request acts as an operator (loopback
 * first use); with it on, 401 for a missing or bad key and 403 for a role that may not.
 * Verified keys are cached by a hash of the key for `cacheTtlMs`, because scrypt costs tens of ms.
 */
export function createAuth(options: AuthOptions): { requireRole(role: Role): RequestHandler } {
  const ttl = options.cacheTtlMs ?? 10_000;
  const guard = options.guard ?? ((fn) => fn());
  const cache = new Map<string, { record: ApiKeyRecord; expires: number }>();

  async function verify(key: string): Promise<ApiKeyRecord | null> {
    const digest = createHash('sha256').update(key).digest('hex');
    const hit = cache.get(digest);
    if (hit && hit.expires > Date.now()) return hit.record;
    cache.delete(digest);
    const record = await guard(() => verifyApiKey(options.keys, key));
    if (record) {
      // Bounded: drop the oldest entry rather than grow with every key ever seen.
      if (cache.size >= 1000) cache.delete(cache.keys().next().value as string);
      cache.set(digest, { record, expires: Date.now() + ttl });
    }
    return record;
  }

  return {
    requireRole(role: Role): RequestHandler {
      return async (req, res, next) => {
        const context = ctx(res);
        if (!options.enabled()) {
          context.principal = { role: 'operator' };
          next();
          return;
        }
        const key = presentedKey(req);
        if (!key) throw new UnauthorizedError('an API key is required: send Authorization: Bearer <key> or x-api-key');
        const record = await verify(key);
        if (!record) throw new UnauthorizedError('the API key is not valid or was revoked');
        context.principal = { role: record.role, keyId: record.id, ...(record.collections ? { collections: record.collections } : {}) };
        context.log = context.log.child({ keyId: record.id });
        if (!GRANTS[record.role].includes(role)) {
          throw new ForbiddenError(`this needs the ${role} role; the key has the ${record.role} role`);
        }
        next();
      };
    },
  };
}
