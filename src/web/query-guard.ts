import type { RequestHandler } from 'express';
import { BadRequestError } from './errors.js';

/**
 * Every route takes each query parameter once, as a plain string. A repeated parameter
 * (`topK=1&topK=5`) or a bracketed name (`topK[]=5`, which Node's parser keeps as a key of its
 * own, so it used to fall back to the default without a word) is answered 400 before any route
 * runs, and changes nothing.
 */
export function queryGuard(): RequestHandler {
  return (req, _res, next) => {
    for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
      if (/[[\]]/.test(name)) {
        throw new BadRequestError(`query parameter ${JSON.stringify(name.slice(0, 64))} is not accepted: parameters are plain names given once (topK=5, not topK[]=5)`, {
          code: 'array-parameter',
        });
      }
      if (typeof value !== 'string') {
        throw new BadRequestError(`query parameter ${JSON.stringify(name.slice(0, 64))} was given more than once; give it once`, { code: 'array-parameter' });
      }
    }
    next();
  };
}
