/**
 * The worker: receive a job message, move the job to `processing`, recognise (or enroll),
 * store the result and move the job to `done`, and only then delete the message.
 *
 * Delivery is at least once, so every step tolerates repeats: START is refused for a job
 * that is not `queued` (or `processing` under an expired lease), SUCCEED is refused for a
 * worker that lost its lease, and a duplicate message for a finished job is just deleted.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { errorInfo, toFacefleetError, type FacefleetError } from '../errors.js';
import type { AnnounceJob } from '../jobs/effects.js';
import { MAX_MESSAGE_DELAY_SECONDS } from '../jobs/effects.js';
import type { JobRunner } from '../jobs/runner.js';
import { jobContext } from '../jobs/view.js';
import type { JobRecord, JobResult, JobState } from '../jobs/types.js';
import { TERMINAL_STATES } from '../jobs/types.js';
import { storeFaceThumbnail } from '../jobs/thumbnails.js';
import type { Logger } from '../log.js';
import { pickEnrollmentFace } from '../recognition/engine.js';
import { MultipleFacesError, NoFaceError } from '../recognition/errors.js';
import { recognizeFaces } from '../recognition/matcher.js';
import { isLowQuality } from '../recognition/quality.js';
import { qualityRefusal } from './quality-refusal.js';
import type { Engine } from '../recognition/types.js';
import type { WebhookDeliverer } from '../webhooks/deliver.js';
import type { WebhookPublisher } from '../webhooks/publish.js';
import { NotFoundError } from '../store/errors.js';
import type { BlobStore, Gallery, JobQueue, ReceivedMessage, WorkerRegistry } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { isEngineCrash, storeFailureCounter } from './crash.js';
import { BlobMissingError, InvalidJobError } from './errors.js';
import { createGalleryCache } from './gallery-cache.js';
import { trackUnknownsIn } from './unknown-faces.js';
import { recluster } from '../unknowns/operations.js';
import { searchAnswerKey, searchFaces, searchInputKey, type SearchAnswer } from '../unknowns/search.js';

export interface WorkerDeps {
  /** Where large collections' graphs are saved and loaded from (./index-file.ts); none saved without it. */
  indexDir?: string;
  config: Pick<Config, 'queue' | 'worker'>;
  log: Logger;
  blobs: BlobStore;
  queue: JobQueue;
  gallery: Gallery;
  registry: WorkerRegistry;
  runner: JobRunner;
  engine: Engine;
  /** The fleet instance this worker runs on, when known. */
  instanceId?: string;
  /**
   * Called once a job this worker ran is stored `done` or `dead-lettered`: the local fleet
   * relays it to the web tier, whose long-polls then answer at once (a hint; they poll anyway).
   */
  onSettled?: (jobId: string, state: JobState) => void;
  /** Consecutive store failures (receive, START, FAIL) after which the worker stops (see crash.ts). Default 5. */
  maxStoreFailures?: number;
  /** Sends `webhook` jobs. Absent: such a job fails for good (`invalid-job`). */
  deliveries?: WebhookDeliverer;
  /**
   * The runner's `announce` effect, repeated for a duplicate message of a finished job: a crash
   * between the job's save and its announce leaves the message undeleted, and its next delivery
   * lands here. Idempotent.
   */
  announce?: AnnounceJob;
  /**
   * Publish a collection event to its webhooks (`WebhookPublisher.publishEvent`), e.g.
   * `unknown.created` when a job starts an unknown cluster. Idempotent per `key`: call it again
   * on a retried attempt and no second delivery is made.
   */
  publishEvent?: WebhookPublisher['publishEvent'];
}

export interface WorkerStats {
  jobsDone: number;
  jobsFailed: number;
  busy: boolean;
  meanJobSeconds?: number;
}

export interface Worker {
  /** Run the receive loop until `stop()`. */
  run(): Promise<void>;
  /**
   * Stop receiving, let the job in hand finish for up to `timeoutMs`, then resolve.
   * Resolves `false` when the job in hand did not finish in time.
   */
  stop(timeoutMs?: number): Promise<boolean>;
  /**
   * Retire: finish the job in hand and keep taking jobs while the queue has some, then end
   * `run()` at the first receive that finds the queue empty (without waiting). The fleet's
   * scale-in for busy workers; the process then exits cleanly.
   */
  retire(): void;
  /** True once `retire()` was called. */
  retiring(): boolean;
  stats(): WorkerStats;
  /**
   * Why `run()` ended on its own, if it did: the engine crashed, or the stores could not be
   * used (see crash.ts). The process should then exit so that the fleet replaces it.
   */
  fatal(): FacefleetError | undefined;
}

export function createWorker(deps: WorkerDeps): Worker {
  const { config, blobs, queue, gallery, registry, runner, engine } = deps;
  const workerId = config.worker.id;
  const log = deps.log.child({ workerId });
  const pipeline = engine.pipeline ?? 'standard';
  const galleryCache = createGalleryCache(gallery, { pipeline, log, ...(deps.indexDir ? { indexDir: deps.indexDir } : {}) });
  const unknowns = trackUnknownsIn({ gallery, blobs, runner, log, pipeline, maxAttempts: config.queue.maxReceiveCount, publishEvent: deps.publishEvent });
  const abort = new AbortController();
  let stopping = false;
  let retiring = false;
  /** Aborts the long poll in progress (retire: poll again without waiting). */
  let poll: AbortController | undefined;
  let inFlight: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let currentJob: string | undefined;
  let jobsDone = 0;
  let jobsFailed = 0;
  let busySeconds = 0;
  let fatal: FacefleetError | undefined;
  const storeFailures = storeFailureCounter(deps.maxStoreFailures);

  /** Stop taking jobs for good: the process exits and the fleet replaces it. */
  function giveUp(err: FacefleetError): void {
    if (fatal) return;
    fatal = err;
    log.error({ err: err.toJSON() }, 'worker stops taking jobs and exits');
    stopping = true;
    abort.abort();
  }

  async function beat(): Promise<void> {
    try {
      const reply = await registry.heartbeat({
        workerId,
        instanceId: deps.instanceId,
        busy: currentJob !== undefined,
        jobId: currentJob,
        at: new Date().toISOString(),
        jobsDone,
        meanJobSeconds: jobsDone > 0 ? busySeconds / jobsDone : undefined,
      });
      // A fleet that cannot reach the worker directly (EC2) asks through the registry.
      if (reply.retire) retire();
    } catch (err) {
      log.warn({ err: errorInfo(err) }, 'worker heartbeat failed');
    }
  }

  function settled(jobId: string, state: JobState): void {
    try {
      deps.onSettled?.(jobId, state);
    } catch (err) {
      log.warn({ err: errorInfo(err), jobId }, 'could not report a finished job');
    }
  }

  function retire(): void {
    if (retiring || stopping) return;
    retiring = true;
    log.info({ busy: currentJob !== undefined }, 'asked to retire: finishing the work in hand and what waits');
    // An idle worker is in a long poll: cut it short and poll once more without waiting.
    if (currentJob === undefined) poll?.abort();
  }

  async function processJob(record: JobRecord): Promise<JobResult> {
    if (record.kind === 'webhook') {
      if (!deps.deliveries) throw new InvalidJobError('this worker cannot send webhook deliveries');
      return deps.deliveries.deliver(record);
    }
    if (record.kind === 'recluster') {
      const collection = record.options.collection ?? DEFAULT_COLLECTION;
      const outcome = await recluster({ blobs, log: log.child({ jobId: record.id }) }, gallery.unknowns(collection));
      return { width: 0, height: 0, faces: [], collection, recluster: outcome };
    }
    let image: Buffer;
    try {
      image = await blobs.get(record.input.key);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new BlobMissingError(`the input image (${record.input.key}) is missing from the blob store; resubmit the image`, { cause: err });
      }
      throw err;
    }
    const analyzed = await engine.analyze(image);
    const collection = record.options.collection ?? DEFAULT_COLLECTION;
    if (record.kind === 'recognize') {
      const index = await galleryCache.get(collection);
      // Largest first, as recognizeFaces orders them, so each result face pairs with its descriptor.
      const sorted = { ...analyzed, faces: [...analyzed.faces].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height) };
      const result = recognizeFaces(sorted, index, record.options);
      const faces = await unknowns.annotate({ collection, jobId: record.id, image, detected: sorted.faces, recognized: result.faces });
      return { ...result, faces, collection, galleryVersion: index.version };
    }
    if (record.kind === 'enroll') {
      const identity = record.options.identity;
      if (!identity) throw new InvalidJobError('enroll job has no identity');
      let face;
      try {
        face = pickEnrollmentFace(analyzed, { largest: record.options.largest ?? false });
      } catch (err) {
        // No face, or several: the answer to this image, not a failure to retry or dead-letter.
        if (!(err instanceof NoFaceError || err instanceof MultipleFacesError)) throw err;
        const reason = err instanceof NoFaceError ? 'no-face' : 'several-faces';
        return { width: analyzed.width, height: analyzed.height, faces: [], refused: { reason, faces: analyzed.faces.length, message: err.message }, collection };
      }
      const minEnrollQuality = record.options.minEnrollQuality ?? 0;
      if (!record.options.force && isLowQuality(face, minEnrollQuality)) {
        return { width: analyzed.width, height: analyzed.height, faces: [], refused: qualityRefusal(face, analyzed.faces.length, minEnrollQuality), collection };
      }
      // The same image bytes for the same identity are one face: a retried job (a crash between
      // addFace and SUCCEED) and a second upload of the same file both get the existing face.
      const contentHash = createHash('sha256').update(image).digest('hex');
      const faces = gallery.in(collection);
      const existing = await faces.findFaceByHash(identity, contentHash);
      const enrolled = existing ?? (await faces.addFace(identity, { descriptor: face.descriptor, source: `job:${record.id}`, pipeline, contentHash }));
      await storeFaceThumbnail({ blobs, log }, { faceId: enrolled.id, image, box: face.box });
      // The index follows the change feed, so the new face is in it without a reload.
      const index = await galleryCache.fresh(collection);
      const { faces: matched } = recognizeFaces({ ...analyzed, faces: [face] }, index, record.options);
      return {
        width: analyzed.width,
        height: analyzed.height,
        faces: matched,
        enrolled: { identity, faceId: enrolled.id, ...(existing ? { existing: true } : {}) },
        collection,
        galleryVersion: index.version,
      };
    }
    throw new InvalidJobError(`unknown job kind ${JSON.stringify(record.kind)}`);
  }

  /** A read-only search (src/unknowns/search.ts): no record, no lease; answered once, then acknowledged. */
  async function handleSearch(message: ReceivedMessage, search: { collection: string; topK: number }): Promise<void> {
    const id = message.body.jobId;
    const slog = log.child({ searchId: id });
    let image: Buffer | null = null;
    try {
      image = await blobs.get(searchInputKey(id));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    // The web tier gave up and deleted the image: nobody waits for an answer.
    if (image) {
      let answer: SearchAnswer;
      try {
        const analyzed = await engine.analyze(image);
        const index = await galleryCache.get(search.collection);
        answer = searchFaces(analyzed, index, await gallery.unknowns(search.collection).list(), search.topK);
      } catch (err) {
        const failure = toFacefleetError(err);
        if (isEngineCrash(failure)) giveUp(failure);
        answer = { width: 0, height: 0, faces: [], error: { code: failure.code, message: failure.message } };
      }
      await blobs.put(searchAnswerKey(id), Buffer.from(JSON.stringify(answer)), { contentType: 'application/json' });
      slog.info({ faces: answer.faces.length }, 'search answered');
    }
    await queue.delete(message.receipt);
  }

  async function handle(message: ReceivedMessage): Promise<void> {
    const search = message.body?.search;
    if (search && typeof message.body.jobId === 'string' && typeof search.collection === 'string') {
      await handleSearch(message, search);
      return;
    }
    const jobId = message.body?.jobId;
    const jlog = log.child({ jobId, messageId: message.messageId, receiveCount: message.receiveCount });
    if (typeof jobId !== 'string' || jobId.length === 0) {
      jlog.warn('message without a job id; deleting it');
      await queue.delete(message.receipt);
      return;
    }
    // The lease is stamped a moment after the message was hidden, so it must end a little
    // before the visibility does: a worker that receives the message the instant it
    // reappears must find the lease already expired, or the takeover is refused.
    const leaseSeconds = Math.max(1, config.queue.visibilitySeconds - Math.min(2, config.queue.visibilitySeconds / 4));
    const started = await runner.dispatch(jobId, { type: 'START', workerId, leaseSeconds, receipt: message.receipt });
    if (!started.record) {
      jlog.warn('message for a job that does not exist; deleting it');
      await queue.delete(message.receipt);
      return;
    }
    if (!started.changed) {
      const { state } = started.record;
      const retryAt = state === 'queued' ? jobContext(started.record).retryAt : undefined;
      if (TERMINAL_STATES.includes(state)) {
        await deps.announce?.(started.record, state as 'done' | 'dead-lettered');
        jlog.info({ state }, 'duplicate message for a finished job; acknowledged and ignored');
        await queue.delete(message.receipt);
      } else if (retryAt !== undefined) {
        // Early: the job's retry is not due (a wait longer than a message can be delayed). Send
        // the message on, delayed again, then drop this copy; a crash in between leaves two
        // copies, and the second is refused the same way or finds the job taken.
        const seconds = Math.min(MAX_MESSAGE_DELAY_SECONDS, Math.max(0, Math.ceil((Date.parse(retryAt) - Date.now()) / 1000)));
        await queue.send({ jobId }, { delaySeconds: seconds });
        await queue.delete(message.receipt);
        jlog.debug({ retryAt, delaySeconds: seconds }, 'message came before the retry time; sent on');
      } else {
        // Another worker holds a live lease. Hide this copy until that lease could have run
        // out; if that worker dies, this copy brings the job back.
        jlog.info({ state }, 'job is held by another worker; message hidden until its lease ends');
        await queue.extend(message.receipt, config.queue.visibilitySeconds).catch(() => undefined);
      }
      return;
    }

    storeFailures.ok();
    currentJob = jobId;
    void beat();
    const startedAt = Date.now();
    const attempt = (started.record.snapshot as { context?: { attempts?: number } })?.context?.attempts;
    jlog.info({ attempt, kind: started.record.kind }, 'job started');
    // Heartbeat: keep the message invisible and the lease alive while the engine works.
    const heartbeat = setInterval(() => {
      queue.extend(message.receipt, config.queue.visibilitySeconds).catch((err) => jlog.warn({ err: errorInfo(err) }, 'visibility extend failed'));
      runner
        .dispatch(jobId, { type: 'HEARTBEAT', workerId, leaseSeconds })
        .catch((err) => jlog.warn({ err: errorInfo(err) }, 'lease heartbeat failed'));
    }, config.worker.heartbeatSeconds * 1000);
    heartbeat.unref();
    try {
      const result = await processJob(started.record);
      // The web tier hears of the job as soon as it is saved done, not after its message's delete.
      const done = await runner.dispatch(jobId, { type: 'SUCCEED', workerId, result, receipt: message.receipt }, { onSaved: (r) => r.state === 'done' && settled(jobId, 'done') });
      if (done.changed) {
        jobsDone += 1;
        jlog.info({ faces: result.faces.length, ms: Date.now() - startedAt }, 'job done');
      } else {
        jlog.warn({ state: done.record?.state }, 'result not stored: this worker no longer holds the job');
      }
    } catch (err) {
      const failure = toFacefleetError(err);
      jobsFailed += 1;
      let error = failure.toJSON();
      let retryAt: string | undefined;
      // A delivery decides its own retry time: hours of backoff, within its retry window.
      if (started.record.kind === 'webhook' && deps.deliveries) ({ error, retryAt } = deps.deliveries.plan(started.record, error, attempt ?? 1));
      const failed = await runner.dispatch(jobId, { type: 'FAIL', workerId, error, receipt: message.receipt, ...(retryAt ? { retryAt } : {}) });
      if (failed.changed && failed.record?.state === 'dead-lettered') settled(jobId, 'dead-lettered');
      jlog.warn({ err: failure.toJSON(), state: failed.record?.state }, 'job attempt failed');
      // A failure stored through FAIL proves the stores writable: the job's attempt budget
      // bounds it. Only a crash means this process must not take another job.
      if (isEngineCrash(failure)) giveUp(failure);
    } finally {
      clearInterval(heartbeat);
      busySeconds += (Date.now() - startedAt) / 1000;
      currentJob = undefined;
      void beat();
    }
  }

  async function receiveLoop(): Promise<void> {
    const idleBeat = setInterval(() => void beat(), Math.max(1000, config.worker.heartbeatSeconds * 1000));
    idleBeat.unref();
    await beat();
    let backoffMs = 100;
    try {
      while (!stopping) {
        let messages: ReceivedMessage[];
        // A retiring worker does not wait: it exits at the first receive finding nothing.
        const final = retiring;
        poll = new AbortController();
        try {
          messages = await queue.receive({
            max: 1,
            waitSeconds: final ? 0 : config.queue.waitSeconds,
            visibilitySeconds: config.queue.visibilitySeconds,
            signal: AbortSignal.any([abort.signal, poll.signal]),
          });
          backoffMs = 100;
          if (messages.length === 0) storeFailures.ok();
          if (messages.length === 0 && final) {
            log.info({ jobsDone }, 'retiring: the queue is empty');
            break;
          }
        } catch (err) {
          if (stopping) break;
          if (retiring && !final) continue;
          log.warn({ err: errorInfo(err), retryInMs: backoffMs }, 'receive failed');
          const unusable = storeFailures.failed(err);
          if (unusable) {
            giveUp(unusable);
            break;
          }
          await new Promise((r) => setTimeout(r, backoffMs));
          backoffMs = Math.min(backoffMs * 2, 5000);
          continue;
        }
        for (const message of messages) {
          inFlight = handle(message).catch((err) => {
            log.error({ err: errorInfo(err) }, 'job handling failed');
            // START or FAIL could not be stored: the stores, not the job.
            const unusable = storeFailures.failed(err);
            if (unusable) giveUp(unusable);
          });
          await inFlight;
          inFlight = undefined;
        }
      }
    } finally {
      clearInterval(idleBeat);
      await registry.remove(workerId).catch(() => undefined);
    }
  }

  return {
    run() {
      loop ??= receiveLoop();
      return loop;
    },
    async stop(timeoutMs = config.worker.shutdownTimeoutSeconds * 1000) {
      stopping = true;
      abort.abort();
      if (!loop) return true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const finished = loop.then(() => true);
      const ok = await Promise.race([finished, timedOut]);
      clearTimeout(timer);
      return ok;
    },
    retire,
    retiring: () => retiring,
    stats() {
      return { jobsDone, jobsFailed, busy: currentJob !== undefined, meanJobSeconds: jobsDone ? busySeconds / jobsDone : undefined };
    },
    fatal: () => fatal,
  };
}
