import type { Express, Request, Response } from 'express';
import { deleteJobData } from '../../jobs/retention.js';
import { isJobState, type JobKind, type JobOptions, type JobRecord } from '../../jobs/types.js';
import { jobView } from '../../jobs/view.js';
import { DEFAULT_COLLECTION } from '../../store/ports.js';
import { limitForClient } from '../client-limits.js';
import { ctx } from '../context.js';
import { BadRequestError, HttpNotFoundError } from '../errors.js';
import { parseCursor, parseJobId, parseLimit, parseMargin, parseThreshold, parseTopK, parseWait } from '../params.js';
import { sendAccepted, withCursor, type RouteContext } from '../route-context.js';
import { recognizeQualityOptions } from '../quality-options.js';
import { collectionOfRequest, requireCollection, requireJobAccess } from '../collection-access.js';
import { submitJob } from '../submit.js';
import { newWebhookSecret } from '../../webhooks/signature.js';
import { parseWebhookUrl, webhookPolicy } from '../webhook-url.js';
import { receivedImage } from '../upload.js';
import { isTerminal, waitForJob } from '../wait.js';

/**
 * Accept the request's validated image as a job and, when `waitSeconds` > 0, wait for it.
 * Returns the last record seen (terminal, or still running when the wait ran out).
 */
export async function submitAndWait(
  rc: RouteContext,
  req: Request,
  res: Response,
  job: { kind: JobKind; field: string; options: JobOptions; waitSeconds: number },
): Promise<JobRecord> {
  const context = ctx(res);
  const image = await receivedImage(req, res, job.field, rc.limits);
  const { record, log } = await submitJob(
    { blobs: rc.deps.blobs, jobs: rc.deps.jobs, runner: rc.deps.runner, guard: rc.guard, maxAttempts: rc.tuning.maxAttempts },
    { kind: job.kind, image, options: job.options, log: context.log },
  );
  context.log = log;
  rc.metrics.jobSubmitted(job.kind);
  if (job.waitSeconds <= 0) return record;
  const last = await waitForJob(() => rc.guard(() => rc.deps.jobs.get(record.id)), {
    timeoutMs: job.waitSeconds * 1000,
    signal: rc.requestSignal(req, res),
    poll: rc.tuning.poll,
    watch: rc.jobWatch,
    initial: record,
  });
  if (last && isTerminal(last)) rc.metrics.jobFinished(last);
  return last ?? record;
}

/** The job options that say where a job belongs: its collection and the key that submitted it. */
export function jobOwnership(res: Response, collection: string): Pick<JobOptions, 'collection' | 'submittedBy'> {
  const keyId = ctx(res).principal?.keyId;
  // `default` is left implicit, so a default job's options are what they were before collections.
  return { ...(collection !== DEFAULT_COLLECTION ? { collection } : {}), ...(keyId !== undefined ? { submittedBy: keyId } : {}) };
}

/** Form field first, then the query string. */
function field(req: Request, name: string): unknown {
  const body = req.body as Record<string, unknown> | undefined;
  return body?.[name] ?? req.query[name];
}

/**
 * `POST /v1/jobs` (client: submit, optionally wait), `GET /v1/jobs/:id` (client: poll or
 * long-poll), `GET /v1/jobs?state=` (operator: list with cursor paging), `DELETE /v1/jobs/:id`
 * (operator: delete the job's input, result and record).
 */
export function registerJobRoutes(app: Express, rc: RouteContext): void {
  const { config } = rc.deps;
  const policy = webhookPolicy(config.webhooks.allow);

  app.post('/v1/jobs', rc.auth.requireRole('client'), rc.rateLimit, rc.multipart('image'), async (req, res) => {
    const waitSeconds = parseWait(field(req, 'wait'), config.web.maxWaitSeconds, 0);
    const collection = await requireCollection(rc, res, collectionOfRequest(req));
    const asked: JobOptions = {
      topK: parseTopK(field(req, 'topK'), config.recognition.topK),
      threshold: parseThreshold(field(req, 'threshold'), collection.threshold ?? config.recognition.threshold),
      margin: parseMargin(field(req, 'margin'), config.recognition.margin),
      ...recognizeQualityOptions((name) => field(req, name), collection),
      ...jobOwnership(res, collection.name),
    };
    // The job's own webhook: checked against the allowlist now and again at every attempt.
    const rawCallback = field(req, 'callbackUrl');
    const callback = rawCallback === undefined || rawCallback === '' ? undefined : { url: parseWebhookUrl(policy, rawCallback, 'callbackUrl'), secret: newWebhookSecret() };
    const limited = limitForClient(ctx(res).principal, asked, {
      ...config.recognition,
      threshold: collection.threshold ?? config.recognition.threshold,
      minQuality: recognizeQualityOptions(() => undefined, collection).minQuality,
    });
    const options: JobOptions = callback ? { ...limited, callback } : limited;
    const record = await submitAndWait(rc, req, res, { kind: 'recognize', field: 'image', options, waitSeconds });
    // The callback's signing secret is shown here, once; job views never show it.
    const extra = callback ? { callback } : {};
    if (isTerminal(record)) res.status(200).json({ ...jobView(record), ...extra });
    else sendAccepted(res, record, extra);
  });

  app.get('/v1/jobs/:id', rc.auth.requireRole('client'), rc.rateLimit, async (req, res) => {
    const id = parseJobId(req.params.id);
    const waitSeconds = parseWait(req.query.wait, config.web.maxWaitSeconds, 0);
    ctx(res).log = ctx(res).log.child({ jobId: id });
    let record = await rc.guard(() => rc.deps.jobs.get(id));
    if (!record) throw new HttpNotFoundError(`no job ${id}`);
    requireJobAccess(res, record);
    if (waitSeconds > 0 && !isTerminal(record)) {
      record =
        (await waitForJob(() => rc.guard(() => rc.deps.jobs.get(id)), {
          timeoutMs: waitSeconds * 1000,
          signal: rc.requestSignal(req, res),
          poll: rc.tuning.poll,
          watch: rc.jobWatch,
          initial: record,
        })) ?? null;
      // Deleted while the request waited.
      if (!record) throw new HttpNotFoundError(`no job ${id}`);
    }
    res.json(jobView(record));
  });

  // Operator only: jobs have no per-key owner yet, so a client key may not delete one (with auth
  // off every caller acts as an operator).
  // The job's owner (the key that submitted it) or an operator; another key's job is a 404, as on GET.
  app.delete('/v1/jobs/:id', rc.auth.requireRole('client'), rc.rateLimit, async (req, res) => {
    const id = parseJobId(req.params.id);
    ctx(res).log = ctx(res).log.child({ jobId: id });
    const record = await rc.guard(() => rc.deps.jobs.get(id));
    if (!record) throw new HttpNotFoundError(`no job ${id}`);
    requireJobAccess(res, record);
    await rc.guard(() => deleteJobData(rc.deps, record));
    ctx(res).log.info('job deleted');
    res.status(204).end();
  });

  app.get('/v1/jobs', rc.auth.requireRole('operator'), rc.rateLimit, async (req, res) => {
    const state = req.query.state;
    if (!isJobState(state)) {
      throw new BadRequestError('state must be one of uploaded, queued, processing, done, dead-lettered', { code: 'bad-state' });
    }
    const cursor = parseCursor(req.query.cursor);
    const limit = parseLimit(req.query.limit);
    const page = await withCursor(cursor, () => rc.guard(() => rc.deps.jobs.listByState(state, { limit, cursor })));
    res.json({ items: page.items.map(jobView), ...(page.cursor ? { cursor: page.cursor } : {}) });
  });
}
