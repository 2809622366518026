/**
 * Bytes of upload bodies in flight, bounded per web process and per API key (issue 14).
 * Uploads are held in memory while they are probed and stored (multer's memory storage), so
 * without a bound 150 concurrent 10 MB uploads took one process past 1.6 GB. Each upload
 * reserves its declared `Content-Length` (or the largest accepted upload, when it declares none)
 * before its body is read, and gives it back when its response closes. Beyond the process's
 * budget the answer is 503, beyond one key's share 429, both with `Retry-After`, and the
 * connection is closed rather than drained.
 */
import type { RequestHandler } from 'express';
import { ctx } from './context.js';
import { RateLimitedError, ServiceUnavailableError } from './errors.js';

export interface UploadBudgetOptions {
  /** Upload bytes one web process holds at once. Default 64 MiB (six 10 MB uploads). */
  processBytes?: number;
  /** Upload bytes one API key (or, with auth off, one address) holds at once. Default 32 MiB. */
  keyBytes?: number;
  /** Reserved for a body that declares no length: the largest upload accepted. */
  maxUploadBytes: number;
}

export const DEFAULT_UPLOAD_BUDGET = { processBytes: 64 * 1024 * 1024, keyBytes: 32 * 1024 * 1024 };

export interface UploadBudget {
  /** Reserve before the body is read (see the module comment). */
  middleware: RequestHandler;
  /** Bytes reserved now, in all and by key. */
  inFlight(): { total: number; keys: number };
}

export function createUploadBudget(options: UploadBudgetOptions): UploadBudget {
  const processBytes = options.processBytes ?? DEFAULT_UPLOAD_BUDGET.processBytes;
  const keyBytes = options.keyBytes ?? DEFAULT_UPLOAD_BUDGET.keyBytes;
  const byKey = new Map<string, number>();
  let total = 0;

  const middleware: RequestHandler = (req, res, next) => {
    const declared = Number(req.get('content-length'));
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : options.maxUploadBytes;
    const principal = ctx(res).principal;
    const who = principal?.keyId ? `key:${principal.keyId}` : `ip:${req.socket.remoteAddress ?? 'unknown'}`;
    const mine = byKey.get(who) ?? 0;
    // One upload alone is always let through, so a budget smaller than an upload cannot lock everyone out.
    if (mine > 0 && mine + bytes > keyBytes) {
      res.set('Connection', 'close');
      throw new RateLimitedError(`this key already has ${mine} upload bytes in flight (at most ${keyBytes}); retry when they finish`, { retryAfterSeconds: 1 });
    }
    if (total > 0 && total + bytes > processBytes) {
      res.set('Connection', 'close');
      throw new ServiceUnavailableError('too many uploads in flight on this web process; retry shortly', { retryAfterSeconds: 1 });
    }
    total += bytes;
    byKey.set(who, mine + bytes);
    res.once('close', () => {
      total -= bytes;
      const left = (byKey.get(who) ?? bytes) - bytes;
      if (left > 0) byKey.set(who, left);
      else byKey.delete(who);
    });
    next();
  };
  return { middleware, inFlight: () => ({ total, keys: byKey.size }) };
}
