import type { ErrorInfo } from '../errors.js';
import type { FaceQuality, QualityReason } from '../recognition/quality.js';
import type { RecognitionResult } from '../recognition/types.js';

/**
 * Terminology
 * - job: one request to recognise the faces in one image. Durable: it lives in the JobStore
 *   from the moment the web tier accepts it until an operator deletes it.
 * - attempt: one try at processing a job by one worker. Counted from 1.
 * - worker: a process that receives job messages from the JobQueue and runs the engine.
 * - dead letter: a job that failed permanently or ran out of attempts. It keeps its reason.
 * - replay: an operator sends a dead-lettered job back to `queued` with a fresh attempt budget.
 */
export const JOB_STATES = ['uploaded', 'queued', 'processing', 'done', 'dead-lettered'] as const;
export type JobState = (typeof JOB_STATES)[number];

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

export const TERMINAL_STATES: readonly JobState[] = ['done', 'dead-lettered'];

/** One entry of a job's bounded transition history. */
export interface HistoryEntry {
  at: string;
  from: JobState | null;
  to: JobState;
  event: string;
  attempt: number;
  workerId?: string;
  error?: ErrorInfo;
}

/** A finished job's result. `enrolled` is set for enroll jobs. */
export interface JobResult extends RecognitionResult {
  /** enroll: the face; `existing` when these image bytes were already enrolled for the identity. */
  enrolled?: { identity: string; faceId: string; existing?: boolean };
  /** The collection matched against (absent on results stored before collections). */
  collection?: string;
  /** The collection's gallery version the match saw. */
  galleryVersion?: string;
  /**
   * enroll: the image was refused, and nothing was enrolled. A refusal is the job's answer
   * (it ends `done`), not a failure: retrying the same image would refuse it again.
   */
  refused?: EnrollRefusal;
  /** recluster: clusters merged away, and open clusters left. */
  recluster?: { merged: number; clusters: number };
  /**
   * webhook: the attempt that the receiver took (a 2xx), or why there was nothing to send. A
   * delivery has no image, so `width`, `height` are 0 and `faces` is empty.
   */
  delivery?: WebhookDeliveryResult;
}

/** What a finished webhook delivery job stores. */
export interface WebhookDeliveryResult {
  /** The receiver's status; absent when the delivery was skipped. */
  status?: number;
  /** How long the successful attempt took, ms. */
  ms?: number;
  /** Set when nothing was sent: the endpoint was removed before the delivery ran. */
  skipped?: 'endpoint-removed';
}

/**
 * Why an enroll job added no face: the image has none, or several (without `largest`), or its
 * face scores under the collection's `minEnrollQuality` (without `force`), named by the measure
 * that costs it most (`src/recognition/quality.ts`).
 */
export interface EnrollRefusal {
  reason: 'no-face' | 'several-faces' | QualityReason;
  /** Faces found in the image. */
  faces: number;
  message: string;
  /** Quality refusals: the face's quality and the minimum it missed. */
  quality?: FaceQuality;
  minEnrollQuality?: number;
}

/** Everything the job machine remembers; persisted inside the snapshot. */
export interface JobContext {
  id: string;
  /** Attempts started so far, over the job's whole life (replays included). */
  attempts: number;
  /** The attempt count at which the current budget runs out. Replay raises it. */
  maxAttempts: number;
  /** The worker holding the job while `processing`. */
  workerId?: string;
  /** ISO time the current worker's lease runs out; after that another worker may take over. */
  leaseUntil?: string;
  /** The last error, if any. */
  error?: ErrorInfo;
  /** Set by a failure that asked for a later retry (webhook deliveries): no attempt starts before it. */
  retryAt?: string;
  /** Why the job is dead-lettered, for operators. */
  deadLetterReason?: string;
  result?: JobResult;
  history: HistoryEntry[];
}

/**
 * What a job does. `recognize` finds and names the faces in the image. `enroll` adds the
 * image's face to `options.identity` in the gallery (refusing no face or several faces
 * unless `options.largest`), so the web tier never needs the model. `webhook` delivers one
 * event to one receiver: its input is the JSON body, its attempts are the delivery attempts.
 * `recluster` merges the collection's unknown clusters that drifted together (src/unknowns); its
 * input is a small JSON blob naming the collection, so it is stored, retried and expired like any job.
 */
export type JobKind = 'recognize' | 'enroll' | 'webhook' | 'recluster';

/** Options of a `webhook` job: one event to one receiver (see `src/webhooks/publish.ts`). */
export interface WebhookJobOptions {
  /** The Standard Webhooks `webhook-id`, the same on every attempt: receivers dedupe on it. */
  messageId: string;
  /** The event type, e.g. `job.done`. */
  type: string;
  /** A registered endpoint: its URL and secret are read at each attempt, so removing it stops the delivery. */
  endpointId?: string;
  /** A job's own callback: where and how to sign (the endpoint has no record of its own). */
  callback?: { url: string; secret: string };
  /** The job the event is about, when it is about one. */
  sourceJobId?: string;
}

/** What the client asked for. */
export interface JobOptions {
  topK: number;
  threshold: number;
  /** The collection to match against or enroll into; absent means `default`. */
  collection?: string;
  /** The id of the API key that submitted the job; only it (or an operator) may read the job. */
  submittedBy?: string;
  /**
   * The 1:N rule's margin to the second-nearest identity (src/recognition/decision.ts). Absent in
   * jobs stored before the rule had one: those use the default.
   */
  margin?: number;
  /** enroll: the identity to add the face to. */
  identity?: string;
  /** enroll: take the largest face when there are several. */
  largest?: boolean;
  /**
   * recognize/enroll: the job's own webhook, called with `job.done` or `job.dead-lettered`; the
   * secret signs it (given to the client once, in the 202). Never shown in a job view.
   */
  callback?: { url: string; secret: string };
  /** webhook: the delivery. */
  webhook?: WebhookJobOptions;
  /** recognize: faces whose quality score is under this are not matched (`reason: "low-quality"`). Absent: 0. */
  minQuality?: number;
  /** enroll: a face whose quality score is under this is refused, unless `force`. Absent: 0. */
  minEnrollQuality?: number;
  /** enroll: enroll even a face under `minEnrollQuality`. */
  force?: boolean;
  /** Landmarks per face in the result: 5 (absent) or 68. */
  landmarks?: 5 | 68;
}

export interface JobInput {
  /** Blob key of the uploaded image, e.g. `inputs/<first two characters of the id>/<id>` (see `inputKey`). */
  key: string;
  contentType: string;
  bytes: number;
  /** The client's file name, sanitised; used by the classic protocol's answer. */
  filename?: string;
}

/**
 * The stored job. `snapshot` is the job machine's persisted snapshot and the source of
 * truth; `state` mirrors its value so stores can index by state.
 */
export interface JobRecord {
  id: string;
  /** Incremented by every save; saves are conditional on it. A new record has version 0. */
  version: number;
  state: JobState;
  kind: JobKind;
  createdAt: string;
  updatedAt: string;
  input: JobInput;
  options: JobOptions;
  /** The xstate persisted snapshot of the job machine (JSON-serialisable). */
  snapshot: unknown;
}

/** The message a JobQueue carries. */
export interface JobMessage {
  jobId: string;
  /**
   * Set on a read-only search ("seen before?", src/unknowns/search.ts): there is no job record;
   * `jobId` names the search's blobs, and the worker answers through the blob store.
   */
  search?: { collection: string; topK: number };
}
