import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Response } from 'express';
import { HttpNotFoundError, ServiceUnavailableError } from '../errors.js';
import type { RouteContext } from '../route-context.js';
import { registerFaceRoutes } from './faces.js';
import { registerFleetRoutes } from './fleet.js';
import { registerKeyRoutes } from './api-keys.js';

/**
 * The console's Content-Security-Policy: everything from this origin, no inline script or
 * style, no plugins, no framing. `blob:` images are the console's own object URLs (a dropped
 * photo, and thumbnails fetched with the API key, which an `<img src>` cannot send).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The bundled console (`npm run build:console`): `<package root>/dist/console`. */
export function consoleDir(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'console');
    const up = path.dirname(dir);
    if (up === dir) return path.resolve('dist', 'console');
    dir = up;
  }
}

function consoleHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/** True when the client asks for a web page rather than an API answer. */
function wantsHtml(accept: string | undefined): boolean {
  return /\btext\/html\b/i.test(accept ?? '');
}

/**
 * The web console at `/console/` (static files, strict CSP on every response, errors included),
 * `GET /` from a browser redirected there, and the small API the console needs beyond the jobs
 * and gallery routes: face listings and thumbnails, a job's input image, API keys, the fleet.
 */
export function registerConsoleRoutes(app: Express, rc: RouteContext, options: { dir?: string } = {}): void {
  const dir = options.dir ?? consoleDir();
  registerFaceRoutes(app, rc);
  registerKeyRoutes(app, rc);
  registerFleetRoutes(app, rc);

  app.get('/', (req, res, next) => {
    if (!wantsHtml(req.get('accept'))) {
      next();
      return;
    }
    res.redirect(302, '/console/');
  });
  app.get('/console', (req, res, next) => {
    // Non-strict routing matches `/console/` here too; only the bare path is redirected.
    if (!/^\/console(\?|$)/.test(req.originalUrl)) {
      next();
      return;
    }
    consoleHeaders(res);
    res.redirect(301, '/console/');
  });
  app.use('/console', (_req, res, next) => {
    consoleHeaders(res);
    next();
  });
  app.use(
    '/console',
    express.static(dir, {
      index: 'index.html',
      redirect: false,
      fallthrough: true,
      maxAge: 0,
      setHeaders(res, file) {
        // index.html names the assets without a version, so it must be revalidated each time.
        res.setHeader('Cache-Control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=300');
      },
    }),
  );
  app.get('/console/', () => {
    throw new ServiceUnavailableError('the console is not built; run `npm run build:console`');
  });
  // Answered here, so that a missing asset's 404 keeps the console's headers.
  app.use('/console', (req) => {
    throw new HttpNotFoundError(`no console file ${req.path.slice(0, 200)}`);
  });
}
