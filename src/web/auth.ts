import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { ApiKeyRecord, KeyStore, Role } from '../store/ports.js';
import { createAuthGuard, type AuthGuardOptions } from './auth-guard.js';
import { ctx } from './context.js';
import { AuthBusyError, ForbiddenError, UnauthorizedError } from './errors.js';
import { parseApiKey, verifyApiKey } from './keys.js';

/** Open connections an address over its failure budget may keep (see `admitConnection`). */
export const LIMITED_ADDRESS_CONNECTIONS = 8;

/** What each role may do: an operator may do everything a client may. */
const GRANTS: Record<Role, readonly Role[]> = { client: ['client'], operator: ['client', 'operator'] };

/** Dependencies of {@link createAuth}. */
export interface AuthOptions {
  keys: KeyStore;
  /** Read per request: `start()` decides it from the bound address. */
  enabled: () => boolean;
  /** How long a verified key's scrypt result is trusted, ms. Default 10 min. 0: verify every request. */
  cacheTtlMs?: number;
  /**
   * How often a cached key's record is read again to see a revocation, ms. Default 1000: a
   * revoked key stops working within a second on every process that reads the same key store.
   */
  revocationCheckMs?: number;
  /** Wraps the key store lookup (the circuit breaker). */
  guard?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Failure limits and the scrypt bound (see auth-guard.ts). */
  limits?: AuthGuardOptions;
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
 * first use); with it on, 401 for a missing or bad key, 429 for an address with too many
 * failures, 503 when scrypt checks are saturated, and 403 for a role that may not.
 * Verified keys are cached by a hash of the key, because scrypt costs tens of ms; a cached key
 * is re-read (no hashing) at most every `revocationCheckMs` to see a revocation.
 */
export function createAuth(options: AuthOptions): { requireRole(role: Role): RequestHandler; admitConnection(socket: Socket): boolean } {
  const ttl = options.cacheTtlMs ?? 600_000;
  const recheck = options.revocationCheckMs ?? 1_000;
  const guard = options.guard ?? ((fn) => fn());
  const limits = createAuthGuard(options.limits);
  const cache = new Map<string, { record: ApiKeyRecord; expires: number; checked: number }>();
  const connections = new Map<string, number>();
  const lookup = { get: (id: string) => guard(() => options.keys.get(id)) };

  /** The cached record, re-read when its last check is older than `recheck`; undefined on a miss. */
  async function cached(digest: string): Promise<ApiKeyRecord | null | undefined> {
    const hit = cache.get(digest);
    const now = Date.now();
    if (!hit || hit.expires <= now) {
      cache.delete(digest);
      return undefined;
    }
    if (now - hit.checked < recheck) return hit.record;
    let fresh: ApiKeyRecord | null;
    try {
      fresh = await guard(() => options.keys.get(hit.record.id));
    } catch {
      // The key store is unreachable: a revocation cannot have been written either, so the
      // verified key keeps working (until its TTL) rather than every client failing with it.
      return hit.record;
    }
    if (!fresh || fresh.revokedAt || fresh.hash !== hit.record.hash) {
      cache.delete(digest);
      return null;
    }
    hit.record = fresh;
    hit.checked = now;
    return fresh;
  }

  async function verify(key: string, address: string): Promise<ApiKeyRecord | null> {
    const digest = createHash('sha256').update(key).digest('hex');
    const hit = await cached(digest);
    if (hit !== undefined) return hit;
    // Not shaped like a key: refused for free, so not worth counting.
    if (!parseApiKey(key)) return null;
    // Cheap refusals first: an address over its failure budget gets no lookup and no hashing.
    limits.admit(address);
    // Only the lookup goes through the store guard (breaker and deadline): a saturated scrypt
    // bound is not a store failure, and must not open the breaker for every client.
    let record: ApiKeyRecord | null;
    try {
      record = await verifyApiKey(lookup, key, limits.hash);
    } catch (err) {
      // Could not be checked in time (503): it counts against the address like a failure.
      if (err instanceof AuthBusyError) limits.failed(address);
      throw err;
    }
    if (!record) {
      limits.failed(address);
      return null;
    }
    if (ttl > 0) {
      // Bounded: drop the oldest entry rather than grow with every key ever seen.
      if (cache.size >= 1000) cache.delete(cache.keys().next().value as string);
      cache.set(digest, { record, expires: Date.now() + ttl, checked: Date.now() });
    }
    return record;
  }

  return {
    /**
     * For the server's `connection` event: an address over its failure budget may keep at most
     * {@link LIMITED_ADDRESS_CONNECTIONS} connections open; more are kept open only until their
     * held 429 is sent (see `AuthGuard.holdConnection`; closed at once, a flood would reconnect
     * at once and make the server accept thousands of connections a second). Its requests are answered 429 with `Connection: close`, so a flood from it
     * pays a handshake per request and cannot hold many requests in flight. Connections it had
     * already (a real client's keep-alive behind the same address) are left alone.
     */
    admitConnection(socket: Socket): boolean {
      const address = socket.remoteAddress ?? 'unknown';
      const open = connections.get(address) ?? 0;
      if (open >= LIMITED_ADDRESS_CONNECTIONS && limits.limited(address)) {
        limits.holdConnection(socket);
        return false;
      }
      connections.set(address, open + 1);
      socket.once('close', () => {
        const left = (connections.get(address) ?? 1) - 1;
        if (left > 0) connections.set(address, left);
        else connections.delete(address);
      });
      return true;
    },
    requireRole(role: Role): RequestHandler {
      return async (req, res, next) => {
        const context = ctx(res);
        if (!options.enabled()) {
          context.principal = { role: 'operator' };
          next();
          return;
        }
        const address = req.socket.remoteAddress ?? 'unknown';
        const key = presentedKey(req);
        if (!key) {
          throw new UnauthorizedError('an API key is required: send Authorization: Bearer <key> or x-api-key');
        }
        let record: ApiKeyRecord | null;
        try {
          record = await verify(key, address);
        } catch (err) {
          // A limited address: make every further request of the flood pay a new connection, and
          // hold the answer, so its few allowed connections cannot keep the server busy.
          if ((err as { status?: number }).status === 429) {
            res.set('Connection', 'close');
            await limits.holdLimited();
          }
          throw err;
        }
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
