import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../log.js';
import type { Role } from '../store/ports.js';

/** Who made the request, once auth has run. `keyId` is absent when auth is off. */
export interface Principal {
  role: Role;
  keyId?: string;
  /** The collections the key is scoped to; absent means every collection. */
  collections?: readonly string[];
}

/** Per-request state, kept in `res.locals` so nothing is bolted onto express's types. */
export interface RequestContext {
  requestId: string;
  log: Logger;
  startedAt: bigint;
  principal?: Principal;
}

/** A client-sent request id is reused only when it is short and plain, so it is safe in logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The context of a request that went through {@link requestContext}. */
export function ctx(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}

/**
 * First middleware: picks the request id (`x-request-id` when sane, else a UUID), echoes it on
 * the response and gives the request a pino child logger carrying it.
 */
export function requestContext(log: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = req.get('x-request-id');
    const requestId = presented && SANE_REQUEST_ID.test(presented) ? presented : randomUUID();
    res.setHeader('x-request-id', requestId);
    const context: RequestContext = { requestId, log: log.child({ requestId }), startedAt: process.hrtime.bigint() };
    res.locals.ctx = context;
    next();
  };
}
