/**
 * The worker's side of unknown clusters: every face of a recognize job that nobody enrolled is
 * near (`no-close-identity`) joins the open cluster of the collection whose template is nearest,
 * within the radius (`clusterToJoin`), or starts one if it may (`mayStartCluster`). Saves are
 * conditional on the cluster's version; a lost race re-reads the clusters and decides again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { FaceQuality } from '../recognition/quality.js';
import type { Box, RecognitionPipeline } from '../recognition/types.js';
import { NotFoundError, VersionConflictError } from '../store/errors.js';
import type { BlobStore, UnknownCluster, UnknownClusterStore, UnknownRepresentative } from '../store/ports.js';
import { clusterToJoin, joinCluster, wantsRecluster } from './clusters.js';
import { CLUSTER_RADIUS, JOIN_MARGIN, MERGE_RULE, mayStartCluster, type MergeRule } from './rules.js';
import { deleteUnknownThumbnails, storeUnknownThumbnail } from './thumbnails.js';

/** What a face in a job result says about its cluster. */
export interface UnknownRef {
  id: string;
  sightings: number;
  firstSeen: string;
}

export interface TrackerDeps {
  blobs: BlobStore;
  log: Logger;
  now?: () => Date;
  radius?: number;
  /** Join margin (`clusterToJoin`); default {@link JOIN_MARGIN}. */
  margin?: number;
  /** When two clusters are the same person (recluster's rule); default {@link MERGE_RULE}. */
  mergeRule?: MergeRule;
  /**
   * Called once a cluster this job started is stored, and again when a retried attempt of the
   * same job finds it (the first attempt may have died before the call), so the `unknown.created`
   * event it publishes is at least once; the event is keyed by the cluster id.
   */
  onCreated?: (cluster: UnknownCluster) => Promise<unknown>;
}

export interface TrackRequest {
  store: UnknownClusterStore;
  jobId: string;
  pipeline: RecognitionPipeline;
  /** The job's image, for thumbnails; absent (benchmarks on cached descriptors) stores none. */
  image?: Buffer;
  maxInputPixels?: number;
}

export interface TrackFace {
  box: Box;
  score: number;
  descriptor: Float32Array;
  quality?: FaceQuality;
}

/** How many times a face re-reads the clusters after losing a conditional save. */
const ATTEMPTS = 6;

const randomId = (n: number) => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(n), (b) => alphabet[b % 36]).join('');
};

/** A new cluster id: `unk_` and 20 random characters. */
export const newClusterId = () => `unk_${randomId(20)}`;

/**
 * Start a cluster for one face. The one place clusters are created, so the one place to emit
 * an `unknown.created` event from (after `store.create` resolves).
 */
export async function createUnknownCluster(store: UnknownClusterStore, seed: { rep: UnknownRepresentative; box: Box; pipeline: RecognitionPipeline }): Promise<UnknownCluster> {
  const { rep } = seed;
  const cluster: UnknownCluster = {
    id: newClusterId(),
    version: 0,
    state: 'open',
    firstSeen: rep.at,
    lastSeen: rep.at,
    sightings: 1,
    representatives: [rep],
    recent: [{ jobId: rep.jobId, at: rep.at, box: seed.box }],
    absorbed: [],
    pipeline: seed.pipeline,
  };
  return store.create(cluster);
}

export interface TrackOutcome {
  /** One per face, in order: its cluster, or null (not tracked, or too poor to start one). */
  refs: Array<UnknownRef | null>;
  /** A cluster was created within the radius of another one: two workers raced; recluster merges them. */
  reclusterWanted: boolean;
}

/** Track `faces` (those nobody enrolled is near); see the file comment. */
export async function trackUnknownFaces(deps: TrackerDeps, request: TrackRequest, faces: readonly TrackFace[]): Promise<TrackOutcome> {
  const radius = deps.radius ?? CLUSTER_RADIUS;
  const now = deps.now ?? (() => new Date());
  const { store } = request;
  let clusters = faces.length > 0 ? await store.list() : [];
  let reclusterWanted = false;
  const refs: Array<UnknownRef | null> = [];
  for (const face of faces) {
    const at = now().toISOString();
    const sighting = { jobId: request.jobId, at, box: { ...face.box } };
    const good = mayStartCluster(face);
    const rep: UnknownRepresentative | undefined = good ? { id: randomId(16), descriptor: Float32Array.from(face.descriptor), jobId: request.jobId, at } : undefined;
    let thumbnail = false;
    const ensureThumbnail = async () => {
      if (thumbnail || !rep || !request.image) return;
      thumbnail = await storeUnknownThumbnail(deps, { id: rep.id, image: request.image, box: face.box, maxInputPixels: request.maxInputPixels });
    };
    // A retried job (a worker died between tracking and storing the result) finds its own
    // sighting and counts nothing twice: tracking is idempotent per job and face box.
    const seen = clusters.find((c) => c.recent.some((s) => s.jobId === request.jobId && sameBox(s.box, face.box)));
    if (seen) {
      const startedHere = seen.recent.some((s) => s.jobId === request.jobId && s.at === seen.firstSeen);
      if (startedHere) await deps.onCreated?.(seen);
      refs.push({ id: seen.id, sightings: seen.sightings, firstSeen: seen.firstSeen });
      continue;
    }
    let ref: UnknownRef | null = null;
    for (let attempt = 0; attempt < ATTEMPTS && !ref; attempt++) {
      const near = clusterToJoin(face.descriptor, clusters, radius, deps.margin ?? JOIN_MARGIN);
      if (near) {
        const change = joinCluster(near.cluster, sighting, rep);
        const kept = rep !== undefined && change.cluster.representatives.some((r) => r.id === rep.id);
        if (kept) await ensureThumbnail();
        try {
          const saved = await store.save(change.cluster, near.cluster.version);
          await deleteUnknownThumbnails(deps.blobs, change.dropped);
          clusters = clusters.map((c) => (c.id === saved.id ? saved : c));
          if (!kept && thumbnail && rep) await deleteUnknownThumbnails(deps.blobs, [rep]);
          ref = { id: saved.id, sightings: saved.sightings, firstSeen: saved.firstSeen };
        } catch (err) {
          if (!(err instanceof VersionConflictError || err instanceof NotFoundError)) throw err;
          clusters = await store.list();
        }
      } else if (rep) {
        await ensureThumbnail();
        const made = await createUnknownCluster(store, { rep, box: face.box, pipeline: request.pipeline });
        await deps.onCreated?.(made);
        // Another worker may have started the same person's cluster at the same moment.
        clusters = await store.list();
        if (wantsRecluster(made, clusters, deps.mergeRule ?? MERGE_RULE)) reclusterWanted = true;
        ref = { id: made.id, sightings: made.sightings, firstSeen: made.firstSeen };
      } else {
        break;
      }
    }
    if (!ref && thumbnail && rep) await deleteUnknownThumbnails(deps.blobs, [rep]);
    if (!ref && rep) deps.log.warn({ jobId: request.jobId }, 'an unknown face was not tracked: its cluster kept changing');
    refs.push(ref);
  }
  return { refs, reclusterWanted };
}

function sameBox(a: Box, b: Box): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}
