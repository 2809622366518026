/**
 * The console's only way to the server: the public HTTP API, with the API key (when auth is on)
 * from sessionStorage, sent as `Authorization: Bearer`. Gallery calls name a collection; until
 * the server has `/v1/collections`, the only collection is `default`, served by `/v1/identities`.
 */
const KEY_STORAGE = 'facefleet.apiKey';

export interface Box { x: number; y: number; width: number; height: number }
export interface Candidate { identity: string; distance: number }
export interface FaceQuality { sharpness: number; brightness: number; size: number; score: number }
export interface Face {
  box: Box; score: number; match: Candidate | null; reason?: string; candidates: Candidate[]; unknown?: { id: string; reason?: string };
  quality?: FaceQuality; pose?: { yaw: number; pitch: number; roll: number };
}
export interface JobResult { width: number; height: number; faces: Face[]; enrolled?: { identity: string; faceId: string } }
export interface ErrorInfo { code: string; message: string; retryable?: boolean }
export interface HistoryEntry { at: string; from: string | null; to: string; event: string; attempt: number; workerId?: string; error?: ErrorInfo }
export interface Job {
  id: string; kind: string; state: string; createdAt: string; updatedAt: string; attempts: number; maxAttempts: number;
  result?: JobResult; error?: ErrorInfo; deadLetterReason?: string; history: HistoryEntry[];
}
export interface Identity { name: string; faceCount: number; createdAt: string }
export interface FaceSummary { id: string; identity: string; createdAt: string; source?: string }
export interface DeadLetter { id: string; reason: string; attempts: number; lastError?: ErrorInfo; at: string }
export interface ReplayReport { matched: number; replayed: number; skipped: { id: string; state: string }[]; notFound: string[]; failed: { id: string; error: ErrorInfo }[] }
export interface ApiKeySummary { id: string; name?: string; role: string; createdAt: string; revokedAt?: string }
export interface Me { role: 'client' | 'operator'; auth: boolean; keyId?: string }
export interface Page<T> { items: T[]; cursor?: string }
export interface FleetStatus {
  at: string;
  queue: { visible: number; inFlight: number; delayed: number; deadLetters: number } | null;
  jobs: Record<string, number> | null;
  workers: { busy: number; idle: number; items: { workerId: string; busy: boolean; jobId?: string; at: string; jobsDone: number }[] } | null;
  controller: { scaler: string | null; desired: number | null; running: number | null; pending: number | null } | null;
  breakers: Record<string, string>;
  errors: Record<string, string>;
}

/** A problem+json answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly body?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const DEFAULT_COLLECTION = 'default';

type AuthListener = (status: number) => void;

export class Api {
  private authListeners: AuthListener[] = [];
  /** Undefined until asked: does the server have `/v1/collections`? */
  private collectionsSupported: boolean | undefined;

  constructor(private readonly base = '') {}

  get key(): string | null {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  set key(value: string | null) {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  }

  /** Called on every 401 or 403: the console asks for a key again. */
  onAuthProblem(listener: AuthListener): void {
    this.authListeners.push(listener);
  }

  async raw(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Accept', headers.get('Accept') ?? 'application/json');
    const key = this.key;
    if (key) headers.set('Authorization', `Bearer ${key}`);
    let res: Response;
    try {
      res = await fetch(this.base + path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, `the server could not be reached (${(err as Error).message})`);
    }
    if (res.ok) return res;
    let body: Record<string, unknown> | undefined;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const detail = typeof body?.detail === 'string' ? body.detail : res.statusText;
    const code = typeof body?.code === 'string' ? body.code : typeof body?.type === 'string' ? String(body.type).split('/').pop() : undefined;
    if (res.status === 401 || res.status === 403) for (const l of this.authListeners) l(res.status);
    throw new ApiError(res.status, detail, code, body);
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.raw(path, init);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  private send<T>(method: string, path: string, body: unknown): Promise<T> {
    return this.json<T>(path, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  }

  me(): Promise<Me> {
    return this.json('/v1/me');
  }

  /** The collections, or just `default` on a server without `/v1/collections` (404). */
  async collections(): Promise<string[]> {
    if (this.collectionsSupported === false) return [DEFAULT_COLLECTION];
    try {
      const page = await this.json<{ items: Array<{ name: string } | string> }>('/v1/collections');
      this.collectionsSupported = true;
      const names = page.items.map((c) => (typeof c === 'string' ? c : c.name));
      return names.length > 0 ? names : [DEFAULT_COLLECTION];
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        this.collectionsSupported = false;
        return [DEFAULT_COLLECTION];
      }
      throw err;
    }
  }

  /** True once `collections()` found `/v1/collections` on the server. */
  get hasCollections(): boolean {
    return this.collectionsSupported === true;
  }

  /** Where a collection's gallery lives: `/v1/collections/<c>`, or `/v1` for `default` on older servers. */
  gallery(collection: string): string {
    if (!this.collectionsSupported && collection === DEFAULT_COLLECTION) return '/v1';
    return `/v1/collections/${encodeURIComponent(collection)}`;
  }

  /** Upload an image to recognise; waits up to `waitSeconds`, then polls until the job is finished. */
  async recognize(file: Blob, options: { collection: string; waitSeconds?: number; filename?: string }): Promise<Job> {
    const form = new FormData();
    form.append('wait', String(options.waitSeconds ?? 20));
    if (options.collection !== DEFAULT_COLLECTION || this.collectionsSupported) form.append('collection', options.collection);
    form.append('image', file, options.filename ?? 'image');
    const job = await this.json<Job>('/v1/jobs', { method: 'POST', body: form });
    return this.until(job);
  }

  /** Poll a job (long-poll, 20 s at a time) until it is done or dead-lettered. */
  async until(job: Job | { id: string; state: string }): Promise<Job> {
    let current = job as Job;
    while (current.state !== 'done' && current.state !== 'dead-lettered') current = await this.job(current.id, 20);
    return current;
  }

  identities(collection: string): Promise<{ items: Identity[] }> {
    return this.json(`${this.gallery(collection)}/identities`);
  }

  faces(collection: string, name: string): Promise<{ items: FaceSummary[] }> {
    return this.json(`${this.gallery(collection)}/identities/${encodeURIComponent(name)}/faces`);
  }

  /** Open unknown clusters of a collection (docs/unknowns.md). */
  unknowns(collection: string): Promise<{ items: UnknownSummary[] }> {
    return this.json(`${this.gallery(collection)}/unknowns`);
  }

  /** A cluster thumbnail by its link (from `links.thumbnails`), as a blob. */
  async unknownThumbnail(link: string): Promise<Blob> {
    return (await this.raw(link, { headers: { Accept: 'image/jpeg' } })).blob();
  }

  /** Promote a cluster's faces to `identity` (made when it does not exist); the cluster ends. */
  nameUnknown(collection: string, id: string, identity: string): Promise<UnknownSummary> {
    return this.send('POST', `${this.gallery(collection)}/unknowns/${encodeURIComponent(id)}/name`, { identity, create: true });
  }

  /** Merge clusters into one (the first survives, the rest end). */
  mergeUnknowns(collection: string, ids: string[]): Promise<UnknownSummary> {
    return this.send('POST', `${this.gallery(collection)}/unknowns/merge`, { ids });
  }

  /** Forget a cluster: descriptors, thumbnails, sightings. */
  forgetUnknown(collection: string, id: string): Promise<void> {
    return this.json(`${this.gallery(collection)}/unknowns/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** A thumbnail as a blob (an `<img src>` could not send the key). */
  async thumbnail(collection: string, name: string, faceId: string): Promise<Blob> {
    const res = await this.raw(`${this.gallery(collection)}/identities/${encodeURIComponent(name)}/faces/${encodeURIComponent(faceId)}/thumbnail`, { headers: { Accept: 'image/jpeg' } });
    return res.blob();
  }

  /** Enroll one image's face under `name`; `largest` takes the largest face of several. */
  async enroll(collection: string, name: string, file: Blob, options: { largest?: boolean; filename?: string } = {}): Promise<{ identity: string; faceId?: string; jobId: string }> {
    const form = new FormData();
    form.append('wait', '30');
    if (options.largest) form.append('largest', 'true');
    form.append('image', file, options.filename ?? 'image');
    // The Gallery page enrolls under the name the user typed, new or existing: create=true.
    const res = await this.raw(`${this.gallery(collection)}/identities/${encodeURIComponent(name)}/faces?create=true`, { method: 'POST', body: form });
    const body = (await res.json()) as { identity?: string; faceId?: string; jobId?: string; id?: string; state?: string };
    if (res.status === 202 && body.id) {
      const job = await this.until({ id: body.id, state: body.state ?? 'queued' });
      if (job.state !== 'done') throw new ApiError(422, job.error?.message ?? job.deadLetterReason ?? 'enrollment failed', job.error?.code);
      return { identity: name, faceId: job.result?.enrolled?.faceId, jobId: job.id };
    }
    return { identity: body.identity ?? name, faceId: body.faceId, jobId: body.jobId ?? '' };
  }

  removeIdentity(collection: string, name: string): Promise<void> {
    return this.json(`${this.gallery(collection)}/identities/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  removeFace(collection: string, name: string, faceId: string): Promise<void> {
    return this.json(`${this.gallery(collection)}/identities/${encodeURIComponent(name)}/faces/${encodeURIComponent(faceId)}`, { method: 'DELETE' });
  }

  jobs(state: string, cursor?: string, limit = 20): Promise<Page<Job>> {
    const q = new URLSearchParams({ state, limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    return this.json(`/v1/jobs?${q}`);
  }

  job(id: string, waitSeconds = 0): Promise<Job> {
    return this.json(`/v1/jobs/${encodeURIComponent(id)}${waitSeconds > 0 ? `?wait=${waitSeconds}` : ''}`);
  }

  async jobImage(id: string): Promise<Blob> {
    return (await this.raw(`/v1/jobs/${encodeURIComponent(id)}/image`, { headers: { Accept: 'image/*' } })).blob();
  }

  deadLetters(filter: { reason?: string; since?: string; cursor?: string; limit?: number }): Promise<Page<DeadLetter>> {
    const q = new URLSearchParams();
    if (filter.reason) q.set('reason', filter.reason);
    if (filter.since) q.set('since', filter.since);
    if (filter.cursor) q.set('cursor', filter.cursor);
    q.set('limit', String(filter.limit ?? 50));
    return this.json(`/v1/dead-letters?${q}`);
  }

  replay(ids: string[]): Promise<ReplayReport> {
    return this.send('POST', '/v1/dead-letters/replay', { ids });
  }

  fleet(): Promise<FleetStatus> {
    return this.json('/v1/fleet');
  }

  keys(): Promise<{ items: ApiKeySummary[] }> {
    return this.json('/v1/keys');
  }

  createKey(role: string, name?: string): Promise<{ id: string; key: string; role: string; name?: string }> {
    return this.send('POST', '/v1/keys', name ? { role, name } : { role });
  }

  revokeKey(id: string): Promise<void> {
    return this.json(`/v1/keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }
}

/** An API error in words a person can act on. */
export function plainError(err: unknown): string {
  if (!(err instanceof ApiError)) return `Something went wrong: ${(err as Error)?.message ?? String(err)}`;
  const detail = err.message ? ` (${err.message})` : '';
  switch (err.status) {
    case 0:
      return `The server could not be reached. Check that facefleet is running${detail}.`;
    case 401:
      return 'This needs an API key. Enter one to continue.';
    case 403:
      return "Your API key's role may not do this.";
    case 413:
      return `That image is too large for this server. Try a smaller file or fewer pixels${detail}.`;
    case 415:
      return `That file is not an image this server can read. Use a JPEG, PNG or WebP${detail}.`;
    case 422:
      return `The image could not be used${detail}.`;
    case 429:
      return 'Too many requests right now. Wait a moment and try again.';
    case 503:
      return `The service is busy or not ready. Try again in a few seconds${detail}.`;
    case 504:
      return 'The job is taking longer than expected; it is still running. Look for it under Jobs.';
    default:
      return `The server answered ${err.status}${detail}.`;
  }
}

/** An unknown cluster as `GET /v1/collections/:c/unknowns` lists it. */
export interface UnknownSummary {
  id: string;
  state: 'open' | 'named';
  identity?: string;
  sightings: number;
  firstSeen: string;
  lastSeen: string;
  links: { self: string; thumbnails: string[] };
}
