import type { Express } from 'express';
import { listDeadLetters, replayJobs, type ReplaySelector } from '../../jobs/operations.js';
import { ctx } from '../context.js';
import { BadRequestError, ConflictError, HttpNotFoundError } from '../errors.js';
import { isUuid, parseCursor, parseLimit, parseSince, parseText } from '../params.js';
import { withCursor, type RouteContext } from '../route-context.js';
import { jsonBody } from './identities.js';

const MAX_REPLAY_IDS = 1000;

/** Validate `{ids}` | `{all: true}` | `{reason}` (plus optional `dryRun`), else 400. */
export function parseReplayBody(body: unknown): { selector: ReplaySelector; dryRun: boolean } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('send {"ids": [...]}, {"all": true} or {"reason": "..."}', { code: 'bad-replay' });
  }
  const { ids, all, reason, dryRun } = body as Record<string, unknown>;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw new BadRequestError('dryRun must be true or false', { code: 'bad-replay' });
  const given = [ids !== undefined, all !== undefined, reason !== undefined].filter(Boolean).length;
  if (given !== 1) throw new BadRequestError('give exactly one of ids, all or reason', { code: 'bad-replay' });
  let selector: ReplaySelector;
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_REPLAY_IDS || !ids.every(isUuid)) {
      throw new BadRequestError(`ids must be 1 to ${MAX_REPLAY_IDS} job ids (UUIDs)`, { code: 'bad-replay' });
    }
    selector = { ids: ids.map((id) => id.toLowerCase()) };
  } else if (all !== undefined) {
    if (all !== true) throw new BadRequestError('all must be true', { code: 'bad-replay' });
    selector = { all: true };
  } else {
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 200) {
      throw new BadRequestError('reason must be a non-empty string of at most 200 characters', { code: 'bad-replay' });
    }
    selector = { reason };
  }
  return { selector, dryRun: dryRun === true };
}

/** Dead-letter listing and replay (operator role), shared logic with the CLI in `jobs/operations.ts`. */
export function registerOperatorRoutes(app: Express, rc: RouteContext): void {
  const { jobs, runner } = rc.deps;
  const operator = rc.auth.requireRole('operator');

  app.get('/v1/dead-letters', operator, rc.rateLimit, async (req, res) => {
    const options = {
      reason: parseText(req.query.reason, 'reason'),
      since: parseSince(req.query.since),
      cursor: parseCursor(req.query.cursor),
      limit: parseLimit(req.query.limit),
    };
    const page = await withCursor(options.cursor, () => rc.guard(() => listDeadLetters(jobs, options)));
    res.json({ items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) });
  });

  app.post('/v1/dead-letters/replay', operator, rc.rateLimit, ...jsonBody(), async (req, res) => {
    const { selector, dryRun } = parseReplayBody(req.body);
    const context = ctx(res);
    const by = context.principal?.keyId ? `key ${context.principal.keyId}` : 'http';
    const report = await replayJobs({ jobs, runner, log: context.log }, selector, { dryRun, signal: rc.requestSignal(req, res), by });
    // One id names one job, so a job in the wrong state is a conflict rather than a report line.
    if (selector.ids?.length === 1) {
      const id = selector.ids[0];
      if (report.notFound.includes(id)) throw new HttpNotFoundError(`no job ${id}`);
      const skipped = report.skipped.find((s) => s.id === id);
      if (skipped) throw new ConflictError(`job ${id} is ${skipped.state}, not dead-lettered`, { extensions: { jobId: id, state: skipped.state } });
      const failed = report.failed.find((f) => f.id === id);
      if (failed) throw Object.assign(new Error(failed.error.message), { code: failed.error.code });
    }
    res.json(report);
  });
}
