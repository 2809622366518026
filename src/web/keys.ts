import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { ApiKeyRecord, KeyStore, Role } from '../store/ports.js';

/**
 * API keys look like `ff_<id>_<secret>`: `id` is 16 hex characters (public, shown in
 * listings), `secret` 43 base64url characters (256 random bits, shown once). The store keeps
 * only a salted scrypt hash of the secret.
 */
export const KEY_PREFIX = 'ff_';
const KEY_PATTERN = /^ff_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const HASH_BYTES = 32;
// The secret is 256 random bits, so scrypt guards a leaked store rather than a guessable
// password; the default cost (N=2^14) still makes each check ~tens of ms, hence the cache in auth.ts.
const SCRYPT_OPTIONS: ScryptOptions = { N: 16384, r: 8, p: 1 };

/** Every role, least privileged first. */
export const ROLES: readonly Role[] = ['client', 'operator'];

/** True for `client` or `operator`. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** A key as listings show it: never the hash or salt. */
export interface ApiKeySummary {
  id: string;
  name?: string;
  role: Role;
  createdAt: string;
  revokedAt?: string;
  collections?: string[];
}

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(secret, salt, HASH_BYTES, SCRYPT_OPTIONS, (err, derived) => (err ? reject(err) : resolve(derived)));
  });
}

/** Split a presented key into id and secret; null when it is not shaped like one of ours. */
export function parseApiKey(presented: string): { id: string; secret: string } | null {
  const m = KEY_PATTERN.exec(presented);
  return m ? { id: m[1], secret: m[2] } : null;
}

/**
 * Create a key with `role` (and an optional display `name`). Returns the full key, which
 * is never stored and cannot be shown again.
 */
export async function createApiKey(keys: KeyStore, options: { role: Role; name?: string; collections?: string[]; now?: Date }): Promise<{ id: string; key: string }> {
  if (!isRole(options.role)) throw new TypeError(`role must be one of ${ROLES.join(', ')}`);
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt);
  const record: ApiKeyRecord = {
    id,
    role: options.role,
    hash: hash.toString('hex'),
    salt: salt.toString('hex'),
    createdAt: (options.now ?? new Date()).toISOString(),
  };
  if (options.name !== undefined && options.name !== '') record.name = options.name;
  if (options.collections !== undefined) record.collections = [...new Set(options.collections)].sort();
  await keys.create(record);
  return { id, key: `${KEY_PREFIX}${id}_${secret}` };
}

/** Runs one scrypt check; `auth-guard.ts` passes one that bounds how many run at once. */
export type HashGate = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * The key's record when `presented` is a valid, unrevoked key; otherwise null. A key that is
 * not shaped like ours, or whose id is unknown, is refused without any hashing: a flood of fake
 * keys costs a store lookup each, not an scrypt. (This tells whether an id exists; ids are
 * public, shown in listings and logs, and a key's strength is its 256-bit secret.) The hash
 * comparison is constant-time. `gate` wraps the scrypt call (default: run it at once).
 */
export async function verifyApiKey(keys: Pick<KeyStore, 'get'>, presented: string, gate: HashGate = (fn) => fn()): Promise<ApiKeyRecord | null> {
  const parsed = parseApiKey(presented);
  if (!parsed) return null;
  const record = await keys.get(parsed.id);
  if (!record || record.revokedAt) return null;
  const expected = Buffer.from(record.hash, 'hex');
  const actual = await gate(() => scrypt(parsed.secret, Buffer.from(record.salt, 'hex')));
  const same = expected.length === actual.length && timingSafeEqual(expected, actual);
  return same ? record : null;
}

/** Every key, revoked ones included, oldest first, without secrets. */
export async function listApiKeys(keys: KeyStore): Promise<ApiKeySummary[]> {
  const records = await keys.list();
  return records
    .map(({ id, name, role, createdAt, revokedAt, collections }) => {
      const summary: ApiKeySummary = { id, role, createdAt };
      if (name !== undefined) summary.name = name;
      if (collections !== undefined) summary.collections = collections;
      if (revokedAt !== undefined) summary.revokedAt = revokedAt;
      return summary;
    })
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Revoke by id (or by a full key, whose id is used). False when no such key exists. */
export async function revokeApiKey(keys: KeyStore, idOrKey: string, now: Date = new Date()): Promise<boolean> {
  const id = parseApiKey(idOrKey)?.id ?? idOrKey;
  return keys.revoke(id, now.toISOString());
}

/** True when at least one unrevoked key exists; `start()` needs one when auth is on. */
export async function hasActiveKey(keys: KeyStore): Promise<boolean> {
  return (await keys.list()).some((k) => !k.revokedAt);
}
