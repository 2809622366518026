import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { NotFoundError } from '../../store/errors.js';
import { searchAnswerKey, searchInputKey, type SearchAnswer } from '../../unknowns/search.js';
import { parseCollectionName, requireCollection } from '../collection-access.js';
import { ctx } from '../context.js';
import { GatewayTimeoutError, UnprocessableError } from '../errors.js';
import { parseTopK, parseWait } from '../params.js';
import type { RouteContext } from '../route-context.js';
import { receivedImage } from '../upload.js';

/**
 * `POST /v1/collections/:c/search` (operator role; multipart `image`, optional `topK`, `wait`):
 * "seen before?", read-only, answered synchronously through the fleet (src/unknowns/search.ts).
 * Nothing is kept: both blobs are deleted once the answer is read or the wait runs out.
 */
export function registerUnknownSearchRoute(app: Express, rc: RouteContext): void {
  const { config, blobs, queue } = rc.deps;
  app.post('/v1/collections/:c/search', rc.auth.requireRole('operator'), rc.rateLimit, rc.multipart('image'), async (req, res) => {
    const c = await requireCollection(rc, res, parseCollectionName(req.params.c));
    const form = req.body as Record<string, unknown>;
    const topK = parseTopK(form.topK ?? req.query.topK, config.recognition.topK);
    const waitSeconds = parseWait(form.wait ?? req.query.wait, config.web.maxWaitSeconds, Math.min(30, config.web.maxWaitSeconds));
    const image = await receivedImage(req, res, 'image', rc.limits);
    const id = randomUUID();
    const log = ctx(res).log.child({ searchId: id });
    const cleanup = () =>
      Promise.all([blobs.delete(searchInputKey(id)), blobs.delete(searchAnswerKey(id))]).catch((err: unknown) => log.warn({ err }, 'search blobs not deleted'));
    await rc.guard(() => blobs.put(searchInputKey(id), image.buffer, { contentType: image.contentType }));
    let answer: SearchAnswer | null = null;
    try {
      await rc.guard(() => queue.send({ jobId: id, search: { collection: c.name, topK } }));
      const signal = rc.requestSignal(req, res);
      const deadline = Date.now() + waitSeconds * 1000;
      for (let pause = 20; !answer && Date.now() < deadline && !signal.aborted; pause = Math.min(250, pause * 2)) {
        await new Promise((r) => setTimeout(r, pause));
        answer = await blobs.get(searchAnswerKey(id)).then(
          (b) => JSON.parse(b.toString('utf8')) as SearchAnswer,
          (err: unknown) => {
            if (err instanceof NotFoundError) return null;
            throw err;
          },
        );
      }
    } finally {
      await cleanup();
    }
    if (!answer) throw new GatewayTimeoutError('no worker answered the search in time; try again');
    if (answer.error) throw new UnprocessableError(answer.error.message, { code: answer.error.code });
    res.json({ collection: c.name, width: answer.width, height: answer.height, faces: answer.faces });
  });
}
