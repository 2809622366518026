/**
 * The worker's unknown-face step: in a collection with `trackUnknowns`, each face nobody is near
 * (`no-close-identity`; an `ambiguous` face is near two people, not a stranger) is tracked
 * (src/unknowns/tracker.ts) and carries `unknown` in the result. A collection's settings are
 * read at most every {@link SETTINGS_TTL_MS}, so switching tracking on or off takes effect
 * within that time.
 */
import type { JobRunner } from '../jobs/runner.js';
import type { Logger } from '../log.js';
import type { DetectedFace, RecognitionPipeline, RecognizedFace } from '../recognition/types.js';
import type { BlobStore, Gallery } from '../store/ports.js';
import { requestRecluster } from '../unknowns/recluster-job.js';
import { trackUnknownFaces } from '../unknowns/tracker.js';
import { errorInfo } from '../errors.js';
import type { WebhookPublisher } from '../webhooks/publish.js';

export const SETTINGS_TTL_MS = 1000;
/** Recluster requests from workers within this many seconds make one job per collection. */
export const RECLUSTER_BUCKET_SECONDS = 60;

export interface UnknownFacesDeps {
  gallery: Gallery;
  blobs: BlobStore;
  runner: JobRunner;
  log: Logger;
  pipeline: RecognitionPipeline;
  maxAttempts: number;
  now?: () => Date;
  /** Publishes `unknown.created` to the collection's webhooks (`WebhookPublisher.publishEvent`). */
  publishEvent?: WebhookPublisher['publishEvent'];
}

export function trackUnknownsIn(deps: UnknownFacesDeps) {
  const settings = new Map<string, { track: boolean; at: number }>();
  async function tracking(collection: string): Promise<boolean> {
    const cached = settings.get(collection);
    if (cached && Date.now() - cached.at < SETTINGS_TTL_MS) return cached.track;
    const track = (await deps.gallery.findCollection(collection))?.trackUnknowns === true;
    settings.set(collection, { track, at: Date.now() });
    return track;
  }
  return {
    async annotate(job: { collection: string; jobId: string; image: Buffer; detected: readonly DetectedFace[]; recognized: RecognizedFace[] }): Promise<RecognizedFace[]> {
      const picks = job.recognized.map((f, i) => (f.match === null && f.reason === 'no-close-identity' ? i : -1)).filter((i) => i >= 0);
      if (picks.length === 0 || !(await tracking(job.collection))) return job.recognized;
      const log = deps.log.child({ jobId: job.jobId });
      const outcome = await trackUnknownFaces(
        {
          blobs: deps.blobs,
          log,
          now: deps.now,
          onCreated: (cluster) =>
            deps.publishEvent?.(job.collection, 'unknown.created', { collection: job.collection, unknownId: cluster.id, firstSeen: cluster.firstSeen, jobId: job.jobId }, { key: `unknown.created:${cluster.id}` }) ?? Promise.resolve(),
        },
        { store: deps.gallery.unknowns(job.collection), jobId: job.jobId, pipeline: deps.pipeline, image: job.image },
        picks.map((i) => job.detected[i]!),
      );
      if (outcome.reclusterWanted) {
        // Best effort: the nightly run merges what this misses.
        await requestRecluster(deps, { collection: job.collection, now: deps.now?.() ?? new Date(), seconds: RECLUSTER_BUCKET_SECONDS, maxAttempts: deps.maxAttempts })
          .then((r) => r.created && log.info({ collection: job.collection, reclusterJob: r.jobId }, 'recluster requested: two clusters started within the radius of each other'))
          .catch((err: unknown) => log.warn({ err: errorInfo(err) }, 'recluster request failed'));
      }
      const out = [...job.recognized];
      picks.forEach((i, k) => {
        const ref = outcome.refs[k];
        if (ref) out[i] = { ...out[i]!, unknown: ref };
      });
      return out;
    },
  };
}
