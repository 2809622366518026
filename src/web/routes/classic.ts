import type { Express } from 'express';
import type { JobResult } from '../../jobs/types.js';
import { jobContext } from '../../jobs/view.js';
import { basenameWithoutExtension, sanitizeFilename } from '../params.js';
import { unfinishedJobError, type RouteContext } from '../route-context.js';
import { DEFAULT_MIN_QUALITY } from '../../recognition/quality.js';
import { collectionOfRequest, requireCollection } from '../collection-access.js';
import { jobOwnership, submitAndWait } from './jobs.js';

/**
 * The classic answer's name: the largest face's matched identity, `unknown` when the 1:N rule
 * names nobody (no identity close enough, or two too close to call), `no-face` when there is no face.
 */
export function classicName(result: JobResult | undefined): string {
  const faces = result?.faces ?? [];
  if (faces.length === 0) return 'no-face';
  const largest = faces.reduce((a, b) => (b.box.width * b.box.height > a.box.width * a.box.height ? b : a));
  return largest.match?.identity ?? 'unknown';
}

/**
 * `POST /`: the classic multi-tier protocol. Multipart field `inputFile`; answers
 * `text/plain` `<basename>:<name>` once the job is done, 504 after
 * `config.web.classicTimeoutSeconds`.
 */
export function registerClassicRoutes(app: Express, rc: RouteContext): void {
  const { config } = rc.deps;
  app.post('/', rc.auth.requireRole('client'), rc.rateLimit, rc.multipart('inputFile'), async (req, res) => {
    const collection = await requireCollection(rc, res, collectionOfRequest(req));
    const record = await submitAndWait(rc, req, res, {
      kind: 'recognize',
      field: 'inputFile',
      options: {
        topK: config.recognition.topK,
        threshold: collection.threshold ?? config.recognition.threshold,
        margin: config.recognition.margin,
        minQuality: collection.minQuality ?? DEFAULT_MIN_QUALITY,
        ...jobOwnership(res, collection.name),
      },
      waitSeconds: config.web.classicTimeoutSeconds,
    });
    if (record.state !== 'done') throw unfinishedJobError(record, record.id);
    const base = basenameWithoutExtension(sanitizeFilename(req.file?.originalname));
    res
      .status(200)
      .type('text/plain')
      .send(`${base}:${classicName(jobContext(record).result)}`);
  });
}
