/**
 * The ports: one interface per concern. Adapters live in `local/` (SQLite and files, the
 * embedded default) and `aws/` (S3, SQS, DynamoDB). Ports hold no connection or vendor
 * types. Adapters translate vendor errors into `./errors.ts`: VersionConflictError,
 * NotFoundError, AlreadyExistsError, StoreUnavailableError (retryable), StorePermanentError.
 *
 * Every method may throw StoreUnavailableError when the backend does not answer.
 */
import type { JobMessage, JobRecord, JobState } from '../jobs/types.js';
import type { Box, RecognitionPipeline } from '../recognition/types.js';

export interface Closeable {
  /** Release clients, handles and timers. Idempotent. */
  close(): Promise<void>;
}

export interface Pingable {
  /** Resolves when the backend answers; used by `/readyz`. */
  ping(): Promise<void>;
}

// ---------------------------------------------------------------- BlobStore

export interface BlobPutOptions {
  contentType?: string;
}

export interface BlobStore extends Closeable, Pingable {
  /**
   * Store bytes under `key` (e.g. `inputs/ab/<id>`), replacing any previous value.
   * Atomic: readers see the old value or the new one, never a part.
   * Keys are `/`-separated segments of `[A-Za-z0-9._-]`, with no `.`/`..` segment; others
   * throw InvalidKeyError.
   */
  put(key: string, body: Buffer, options?: BlobPutOptions): Promise<void>;
  /**
   * Optional: `put` in two steps. Resolves once every reader sees the value (atomic, as `put`),
   * with `durable`, which settles once the value is on stable storage (when `put` would have
   * resolved; it rejects with the store's error). A caller can overlap the flush with work that
   * needs only the value visible, and must await `durable` before it reports the value stored.
   * Stores whose writes are durable when visible (S3) leave it out.
   */
  putVisible?(key: string, body: Buffer, options?: BlobPutOptions): Promise<{ durable: Promise<void> }>;
  /** The bytes under `key`. Throws NotFoundError when absent. */
  get(key: string): Promise<Buffer>;
  /** Delete `key`; deleting an absent key succeeds. */
  delete(key: string): Promise<void>;
  /** True when `key` exists. */
  exists(key: string): Promise<boolean>;
  /**
   * Up to `limit` keys under `prefix` (e.g. `inputs/`) last written before `before`, in no set
   * order: the orphan sweep's listing. Optional: a store without it is not swept.
   */
  listOlderThan?(prefix: string, before: Date, limit: number): Promise<string[]>;
  /**
   * Optional: mark `key` as the input of a job that ended `done`, so that a store-side expiry
   * rule may delete it once input retention has passed (S3: the object tag
   * `facefleet-finished=done`, matched by the lifecycle rule `provision` creates). Never called
   * for a dead-lettered job's input, which must stay for a replay. An absent key is ignored. The
   * local store leaves it out: its retention sweep is the only mechanism there.
   */
  markFinished?(key: string): Promise<void>;
}

// ---------------------------------------------------------------- JobStore

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

export interface ListOptions {
  /** Page size. Default 100. */
  limit?: number;
  cursor?: string;
}

export interface JobStore extends Closeable, Pingable {
  /** Create-if-absent. `record.version` must be 0. Throws AlreadyExistsError. New jobs come in through {@link JobIntake}. */
  create(record: JobRecord): Promise<void>;
  /** The record, or null. */
  get(id: string): Promise<JobRecord | null>;
  /**
   * Optional capability: the current version of each of these jobs that exists (absent ids are
   * left out), without reading the records. Long-polls use it to read a record only when it
   * changed. The local backend has it; absent, they read the record every time.
   */
  versions?(ids: readonly string[]): Promise<Map<string, number>>;
  /**
   * Save-if-version: writes `record` with `version = expectedVersion + 1` only if the stored
   * version is still `expectedVersion`. Returns the saved record. Throws VersionConflictError
   * when the version moved on, NotFoundError when the record is gone.
   */
  save(record: JobRecord, expectedVersion: number): Promise<JobRecord>;
  /** Jobs in `state`, oldest `updatedAt` first, with cursor paging. */
  listByState(state: JobState, options?: ListOptions): Promise<Page<JobRecord>>;
  /** How many jobs are in each state (every state present, zero included). */
  countByState(): Promise<Record<JobState, number>>;
  /** Delete a job record (used by retention and tests). Absent is fine. */
  delete(id: string): Promise<void>;
}

// ---------------------------------------------------------------- JobIntake

/** A new job as it comes in: its first record (version 0, already `queued`) and the messages that go with it. */
export interface IncomingJob {
  record: JobRecord;
  messages: JobMessage[];
}

/**
 * How a new job enters the system: its record and its messages in one operation.
 *
 * - The SQLite intake writes both in one transaction: both are stored, or neither.
 * - Elsewhere (`createThenSend`, the AWS backend, or stores wrapped for fault injection) the
 *   record is created, then the messages are sent. A send that fails after the create throws
 *   JobNotSentError: the job stands `queued` without its message, and the sweeper sends it.
 *
 * Either way a job that exists already (AlreadyExistsError) sends nothing.
 */
export interface JobIntake {
  accept(job: IncomingJob): Promise<void>;
}

// ---------------------------------------------------------------- JobQueue

export interface ReceivedMessage {
  /** The queue's id for this message. Stable across deliveries. */
  messageId: string;
  /** Handle for extend/delete; valid for this delivery only. */
  receipt: string;
  body: JobMessage;
  /** How many times this message has been received, this delivery included (from 1). */
  receiveCount: number;
  /** ISO time the message was first sent. */
  sentAt: string;
}

export interface ReceiveOptions {
  /** At most this many messages (1..10). */
  max: number;
  /** Long poll: wait up to this long for a first message (0..20). */
  waitSeconds: number;
  /** Hide received messages from other receivers for this long. */
  visibilitySeconds: number;
  /** Abort the long poll early (shutdown); resolves with what it has, usually []. */
  signal?: AbortSignal;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface DeadLetterMessage {
  messageId: string;
  body: JobMessage;
  receiveCount: number;
  sentAt: string;
  /** ISO time it moved to the dead-letter queue, where the backend knows it. */
  deadLetteredAt?: string;
}

export interface JobQueue extends Closeable, Pingable {
  /** Send a message, visible after `delaySeconds` (default 0, max 900). Returns the message id. */
  send(body: JobMessage, options?: { delaySeconds?: number }): Promise<string>;
  /**
   * Receive up to `max` visible messages, waiting up to `waitSeconds` for the first.
   * A message received more than `maxReceiveCount` times moves to the dead-letter queue
   * instead of being delivered again. While a message is invisible no other receiver gets it.
   */
  receive(options: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Set the message's visibility timeout to `seconds` from now (heartbeat, or a retry backoff). */
  extend(receipt: string, seconds: number): Promise<void>;
  /** Acknowledge. Deleting an already-deleted message succeeds. */
  delete(receipt: string): Promise<void>;
  depth(): Promise<QueueDepth>;
  /** Messages in the dead-letter queue, oldest first. */
  listDeadLetters(options?: ListOptions): Promise<Page<DeadLetterMessage>>;
  /** Remove the dead-letter messages that carry `jobId`. Returns how many were removed. */
  deleteDeadLettersFor(jobId: string): Promise<number>;
  /** How many messages are in the dead-letter queue. */
  deadLetterDepth(): Promise<number>;
}

// ---------------------------------------------------------------- Gallery

/** The collection every data dir and table starts with, and the one the un-nested routes use. */
export const DEFAULT_COLLECTION = 'default';

export interface Identity {
  name: string;
  faceCount: number;
  createdAt: string;
}

/** A collection's name, settings and creation time: what {@link Gallery.findCollection} reads, without counting its contents. */
export type CollectionInfo = Omit<Collection, 'identityCount' | 'faceCount'>;

export interface EnrolledFace {
  id: string;
  identity: string;
  descriptor: Float32Array;
  /** Where the face came from (a file name or blob key), for operators. */
  source?: string;
  /**
   * The recognition pipeline that made the descriptor. Descriptors of two pipelines differ for
   * the same face, so a worker warns about faces of another one. `standard` for faces stored
   * before this was recorded.
   */
  pipeline: RecognitionPipeline;
  /** SHA-256 (hex) of the image bytes the face was enrolled from, when known; makes enrollment idempotent. */
  contentHash?: string;
  createdAt: string;
}

/** What {@link CollectionGallery.eachFace} hands over of a face: what an index keeps of it. */
export type IndexRow = Pick<EnrolledFace, 'id' | 'identity' | 'descriptor' | 'pipeline'>;

/** What {@link CollectionGallery.addFace} takes. */
export interface NewFace {
  descriptor: Float32Array;
  source?: string;
  pipeline?: RecognitionPipeline;
  contentHash?: string;
}

/** A collection's own settings; each absent means the service default. */
export interface CollectionSettings {
  /** The distance threshold recognition uses when a request names none. */
  threshold?: number;
  /** Recognition: faces whose quality score is under this are not matched (`low-quality`), unless a request names its own. 0..1. */
  minQuality?: number;
  /** Enrollment: faces whose quality score is under this are refused unless forced. 0..1. */
  minEnrollQuality?: number;
  /** Remember unknown faces as anonymous clusters (docs/unknowns.md). Default false: a privacy decision. */
  trackUnknowns?: boolean;
  /** Clusters not seen for this many days are deleted by the sweeper. Default {@link DEFAULT_UNKNOWN_RETENTION_DAYS}. */
  unknownRetentionDays?: number;
}

/** Days an unknown cluster is kept after it was last seen, when the collection sets none. */
export const DEFAULT_UNKNOWN_RETENTION_DAYS = 30;

/** A change to {@link CollectionSettings}: a value sets the setting, `null` clears it back to the service default, absent leaves it. */
export type CollectionSettingsPatch = { [K in keyof CollectionSettings]?: CollectionSettings[K] | null };

/** The names of every {@link CollectionSettings} field, for adapters that copy them. */
export const COLLECTION_SETTINGS = ['threshold', 'minQuality', 'minEnrollQuality', 'trackUnknowns', 'unknownRetentionDays'] as const satisfies readonly (keyof CollectionSettings)[];

/** The settings that are set (neither null nor undefined) in `raw`, as {@link CollectionSettings}. */
export function settingsOf(raw: CollectionSettingsPatch): CollectionSettings {
  const out: Record<string, unknown> = {};
  for (const k of COLLECTION_SETTINGS) {
    const v = raw[k];
    if (v !== null && v !== undefined) out[k] = v;
  }
  return out as CollectionSettings;
}

/** A named, isolated gallery with its own identities, faces and settings. */
export interface Collection extends Omit<CollectionSettings, 'trackUnknowns' | 'unknownRetentionDays'> {
  name: string;
  /** Whether unknown faces are remembered (false unless the collection turned it on). */
  trackUnknowns: boolean;
  /** Days an unknown cluster is kept after it was last seen. */
  unknownRetentionDays: number;
  identityCount: number;
  faceCount: number;
  createdAt: string;
}

/**
 * One entry of a collection's change feed. `add` carries the face; `remove` names one face;
 * `remove-identity` removes every face of the identity. Identity creation is in the feed too
 * (`create-identity`) so the version moves, but an index has nothing to do for it.
 */
export type GalleryChange =
  | { op: 'add'; face: EnrolledFace }
  | { op: 'remove'; faceId: string; identity: string }
  | { op: 'remove-identity'; identity: string }
  | { op: 'create-identity'; identity: string };

/** What changed after a version: apply `changes` in order, and the copy is at `version`. */
export interface GalleryChanges {
  version: string;
  changes: GalleryChange[];
}

/**
 * One collection's identities and faces. Identity names are 1..64 characters of
 * `[A-Za-z0-9 ._'-]`, case-sensitive; validation happens above the port. On a collection that
 * does not exist, reads answer empty/null and writes throw NotFoundError.
 */
export interface CollectionGallery {
  readonly collection: string;
  /** Create an identity. Throws AlreadyExistsError. */
  createIdentity(name: string): Promise<Identity>;
  getIdentity(name: string): Promise<Identity | null>;
  listIdentities(): Promise<Identity[]>;
  /** Remove an identity and all its faces. Returns false when it did not exist. */
  removeIdentity(name: string): Promise<boolean>;
  /** Add one face to `name`, creating the identity if needed. */
  addFace(name: string, face: NewFace): Promise<EnrolledFace>;
  /** Remove one face of `identity`. Returns false when there is no such face. */
  removeFace(identity: string, faceId: string): Promise<boolean>;
  /** The face of `identity` enrolled from these image bytes, or null. */
  findFaceByHash(identity: string, contentHash: string): Promise<EnrolledFace | null>;
  /** The faces of one identity, oldest first. */
  listFacesOf(identity: string): Promise<EnrolledFace[]>;
  /** Every enrolled face of every identity of the collection. */
  listFaces(): Promise<EnrolledFace[]>;
  /**
   * Every enrolled face, in {@link listFaces}' order, handed to `visit` one at a time without
   * keeping them all: what an index's full load reads. The row object may be reused between
   * calls; copy what you keep. Resolves to the number of faces visited.
   */
  eachFace(visit: (face: IndexRow) => void): Promise<number>;
  /**
   * Changes whenever the collection's identities or faces change; opaque. Also changes when
   * the collection is removed and made again, so a copy of the old one is never kept.
   */
  version(): Promise<string>;
  /**
   * The changes after `version`, in order, read without touching other collections. Null when
   * the feed cannot answer from that version (another incarnation of the collection, or a
   * version it no longer holds): reload with listFaces() then.
   */
  changesSince(version: string): Promise<GalleryChanges | null>;
}

/**
 * Collections, and the `default` collection's identities and faces directly (the methods of
 * {@link CollectionGallery} on the gallery itself are the `default` collection's).
 */
export interface Gallery extends CollectionGallery, Closeable, Pingable {
  /** One collection's view; cheap, no I/O. */
  in(collection: string): CollectionGallery;
  /** Throws AlreadyExistsError. Names are validated above the port. */
  createCollection(name: string, options?: CollectionSettings): Promise<Collection>;
  /** One collection's unknown clusters; cheap, no I/O. */
  unknowns(collection: string): UnknownClusterStore;
  /** The collection with its counts of identities and faces, which cost a scan of the collection: for listings, not for every request. */
  getCollection(name: string): Promise<Collection | null>;
  /** The collection's settings in one read, with no counting: what a request or a job needs. Null when it does not exist. */
  findCollection(name: string): Promise<CollectionInfo | null>;
  /** Change a collection's settings (see {@link CollectionSettingsPatch}). Null when the collection does not exist. */
  updateCollection(name: string, patch: CollectionSettingsPatch): Promise<Collection | null>;
  /** Every collection, by name. */
  listCollections(): Promise<Collection[]>;
  /** Remove the collection and every identity, face and unknown cluster in it. False when absent. `default` is refused above the port. */
  removeCollection(name: string): Promise<boolean>;
}

// ---------------------------------------------------------------- Unknown clusters

/**
 * Terminology
 * - unknown cluster: the faces of one person nobody enrolled, remembered under an anonymous id
 *   (`unk_...`) in a collection that tracks unknowns.
 * - representative: one of a cluster's bounded set of descriptors, each with a thumbnail; a new
 *   face joins the cluster when it is within the radius of one of them.
 * - sighting: one unknown face matched to (or starting) a cluster: its job, time and box.
 */
export interface UnknownRepresentative {
  /** Random; names the thumbnail (`unknownThumbnailKey`). */
  id: string;
  descriptor: Float32Array;
  /** The job whose image it came from, and when. */
  jobId: string;
  at: string;
}

/** The mean of `faces` descriptors. */
export interface UnknownTemplate {
  mean: Float32Array;
  faces: number;
}

export interface UnknownSighting {
  jobId: string;
  at: string;
  box: Box;
}

export interface UnknownCluster {
  /** `unk_` and 20 lowercase letters and digits. */
  id: string;
  /** Incremented by every save; saves are conditional on it. A new cluster has version 0. */
  version: number;
  /** `open` while it collects faces; `named` once promoted to an identity (it then keeps nothing biometric). */
  state: 'open' | 'named';
  /** Set when named: the identity the cluster became. */
  identity?: string;
  firstSeen: string;
  lastSeen: string;
  /** Every sighting counted, including those no longer in `recent`. */
  sightings: number;
  representatives: UnknownRepresentative[];
  /**
   * The cluster's template: the mean descriptor of every face good enough to represent it that
   * joined it (not only the representatives kept), and how many. Faces join by their distance to
   * it. Absent on a cluster stored before templates (the mean of its representatives stands in)
   * and on a named cluster.
   */
  template?: UnknownTemplate;
  /** The most recent sightings, newest first, bounded. */
  recent: UnknownSighting[];
  /** Digests of clusters merged into this one (never their ids), so a repeated merge counts nothing twice. */
  absorbed: string[];
  pipeline: RecognitionPipeline;
}

/**
 * One collection's unknown clusters. Writes on a collection that does not exist throw
 * NotFoundError; reads answer empty/null. The rules (radius, representatives, merging) live
 * above the port, in `src/unknowns`.
 */
export interface UnknownClusterStore {
  readonly collection: string;
  /** Create-if-absent; `cluster.version` must be 0. Returns it at version 1. Throws AlreadyExistsError. */
  create(cluster: UnknownCluster): Promise<UnknownCluster>;
  get(id: string): Promise<UnknownCluster | null>;
  /**
   * Save-if-version: writes with `version = expectedVersion + 1` only if the stored version is
   * still `expectedVersion`. Throws VersionConflictError, or NotFoundError when it is gone.
   */
  save(cluster: UnknownCluster, expectedVersion: number): Promise<UnknownCluster>;
  /** Delete for good (rows and, on SQLite, the bytes in the log). False when absent. */
  delete(id: string): Promise<boolean>;
  /** Every cluster of the collection, oldest `firstSeen` first (ties by id). */
  list(): Promise<UnknownCluster[]>;
}

// ---------------------------------------------------------------- API keys

export type Role = 'client' | 'operator';

export interface ApiKeyRecord {
  /** Public part of the key, shown in listings. */
  id: string;
  name?: string;
  role: Role;
  /** scrypt hash of the secret part, hex. */
  hash: string;
  /** Random salt, hex. */
  salt: string;
  createdAt: string;
  revokedAt?: string;
  /** The collections this key may use; absent means every collection. */
  collections?: string[];
}

export interface KeyStore extends Closeable {
  /** Throws AlreadyExistsError on a duplicate id. */
  create(record: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | null>;
  list(): Promise<ApiKeyRecord[]>;
  /** Mark revoked. Returns false when absent. */
  revoke(id: string, at: string): Promise<boolean>;
}

// ---------------------------------------------------------------- Webhook endpoints

/**
 * A registered webhook endpoint of one collection. `secret` is the Standard Webhooks signing
 * secret (`whsec_...`): kept as is, because every delivery is signed with it; the API shows it
 * once, when the endpoint is made, and never lists it.
 */
export interface WebhookEndpoint {
  /** `wh_` and 24 hex characters. */
  id: string;
  collection: string;
  url: string;
  /** The event types it receives, e.g. `job.done`. */
  events: string[];
  secret: string;
  createdAt: string;
  /**
   * Set when the endpoint is disabled: no delivery is made for it, and pending ones are skipped.
   * A receiver that answers 410 Gone disables it (Standard Webhooks); an operator re-enables it.
   */
  disabled?: WebhookDisabled;
}

/** Why and when an endpoint was disabled. */
export interface WebhookDisabled {
  at: string;
  /** `gone`: the receiver answered 410; `operator`: disabled through the API. */
  reason: 'gone' | 'operator';
  /** The receiver's status, for `gone`. */
  status?: number;
  /** The delivery job that got the answer, for `gone`. */
  deliveryId?: string;
}

/** The webhook endpoints of every collection. */
export interface WebhookStore extends Closeable {
  /** Throws AlreadyExistsError on a duplicate id. */
  create(endpoint: WebhookEndpoint): Promise<void>;
  get(collection: string, id: string): Promise<WebhookEndpoint | null>;
  /** The collection's endpoints, oldest first. */
  list(collection: string): Promise<WebhookEndpoint[]>;
  /** False when there was no such endpoint. */
  delete(collection: string, id: string): Promise<boolean>;
  /**
   * Disable the endpoint (`disabled`) or enable it again (`null`). Returns the endpoint as it
   * now is, or null when there is no such endpoint (nothing is created).
   */
  setDisabled(collection: string, id: string, disabled: WebhookDisabled | null): Promise<WebhookEndpoint | null>;
}

// ---------------------------------------------------------------- Worker registry

export interface WorkerHeartbeat {
  workerId: string;
  /** The fleet instance or process that runs the worker, when known. */
  instanceId?: string;
  busy: boolean;
  jobId?: string;
  at: string;
  /** Jobs finished by this worker since it started, and the mean seconds each took. */
  jobsDone: number;
  meanJobSeconds?: number;
}

/** What a heartbeat hears back. */
export interface HeartbeatReply {
  /** The controller asked this worker to retire: finish up and exit once the queue is empty. */
  retire: boolean;
}

/** Workers report here; the controller reads it to know which workers are busy or idle. */
export interface WorkerRegistry extends Closeable {
  /** Replace the worker's last heartbeat; the reply carries a pending retire request. */
  heartbeat(beat: WorkerHeartbeat): Promise<HeartbeatReply>;
  list(): Promise<WorkerHeartbeat[]>;
  /** Forget a worker (and any retire request); absent is fine. */
  remove(workerId: string): Promise<void>;
  /**
   * Ask a registered worker to retire; its next heartbeat hears it. A worker that is not
   * registered is ignored (nothing is created). For fleets that cannot tell a worker directly.
   */
  retire(workerId: string, at: string): Promise<void>;
}

// ---------------------------------------------------------------- All of them

/** Every store a process needs, as one backend opens them. */
export interface Stores {
  blobs: BlobStore;
  jobs: JobStore;
  queue: JobQueue;
  /** New jobs: `jobs` and `queue` together (see {@link JobIntake}). */
  intake: JobIntake;
  gallery: Gallery;
  keys: KeyStore;
  registry: WorkerRegistry;
  webhooks: WebhookStore;
  /** Close every store. Idempotent. */
  close(): Promise<void>;
}
