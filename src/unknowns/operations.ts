/**
 * What operators (and the recluster job) do to clusters: merge, recluster, forget, name. Each
 * step is a conditional save or a delete, ordered so that a crash part-way is finished by running
 * the same call again: a merge saves the survivor (which remembers, by digest, what it absorbed)
 * before it deletes the others; naming adds faces keyed by a content hash before it ends the cluster.
 */
import { createHash } from 'node:crypto';
import { thumbnailKey } from '../jobs/thumbnails.js';
import type { Logger } from '../log.js';
import { NotFoundError, VersionConflictError } from '../store/errors.js';
import type { BlobStore, CollectionGallery, UnknownCluster, UnknownClusterStore } from '../store/ports.js';
import { mergedInto, mergeInto, olderFirst, planRecluster } from './clusters.js';
import { ClusterNotFoundError, IdentityMissingError, InvalidClusterRequestError } from './errors.js';
import { MERGE_RULE, type MergeRule } from './rules.js';
import { deleteUnknownThumbnails, unknownThumbnailKey } from './thumbnails.js';

export interface ClusterOpsDeps {
  blobs: BlobStore;
  log: Logger;
}

const ATTEMPTS = 8;

async function openCluster(store: UnknownClusterStore, id: string): Promise<UnknownCluster> {
  const cluster = await store.get(id);
  if (!cluster) throw new ClusterNotFoundError(`no unknown cluster ${id} in ${store.collection}`);
  if (cluster.state !== 'open') throw new InvalidClusterRequestError(`unknown cluster ${id} was named ${JSON.stringify(cluster.identity)}; it takes no more changes`);
  return cluster;
}

/**
 * Merge the clusters `ids` (two or more, distinct, all open, all of this collection) into the
 * oldest of them; the others are deleted, with the thumbnails of representatives not kept.
 */
export async function mergeClusters(deps: ClusterOpsDeps, store: UnknownClusterStore, ids: readonly string[]): Promise<UnknownCluster> {
  if (ids.length < 2) throw new InvalidClusterRequestError('merge needs two or more cluster ids');
  if (new Set(ids).size !== ids.length) throw new InvalidClusterRequestError('a cluster cannot be merged with itself');
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const clusters = await Promise.all(ids.map((id) => openCluster(store, id)));
    clusters.sort(olderFirst);
    const [survivor, ...others] = clusters as [UnknownCluster, ...UnknownCluster[]];
    const { cluster, dropped } = mergeInto(survivor, others);
    let saved: UnknownCluster;
    try {
      saved = await store.save(cluster, survivor.version);
    } catch (err) {
      if (err instanceof VersionConflictError) continue;
      throw err;
    }
    for (const o of others) await store.delete(o.id);
    await deleteUnknownThumbnails(deps.blobs, dropped);
    deps.log.info({ collection: store.collection, into: saved.id, merged: others.length }, 'unknown clusters merged');
    return saved;
  }
  throw new VersionConflictError(`the clusters kept changing while they were merged; try again`);
}

/**
 * Merge every group of open clusters whose templates came within the merge rule's limit (two workers
 * that started the same person's cluster at once; clusters that grew towards each other), and
 * attach the strays the rule's second step picks (`planRecluster`). Run again, it finds nothing
 * more to merge: idempotent.
 */
export async function recluster(deps: ClusterOpsDeps, store: UnknownClusterStore, rule: MergeRule = MERGE_RULE): Promise<{ merged: number; clusters: number }> {
  let merged = 0;
  for (const group of planRecluster(await store.list(), rule)) {
    try {
      await mergeClusters(deps, store, [group.survivor.id, ...group.others.map((o) => o.id)]);
      merged += group.others.length;
    } catch (err) {
      // Forgotten, named or merged by someone else meanwhile: the next run sees the new state.
      if (!(err instanceof ClusterNotFoundError || err instanceof InvalidClusterRequestError)) throw err;
    }
  }
  const clusters = (await store.list()).filter((c) => c.state === 'open').length;
  return { merged, clusters };
}

/**
 * The cluster `id` names: itself, or, for an id merged away, the cluster it was merged into
 * (`mergedInto` is then the survivor's id). A miss reads every cluster of the collection, once.
 */
export async function findCluster(store: UnknownClusterStore, id: string): Promise<{ cluster: UnknownCluster; mergedInto?: string } | null> {
  const cluster = await store.get(id);
  if (cluster) return { cluster };
  const survivor = mergedInto(await store.list(), id);
  return survivor ? { cluster: survivor, mergedInto: survivor.id } : null;
}

/** Delete a cluster for good: its record (descriptors and sightings) and its thumbnails. */
export async function forgetCluster(deps: ClusterOpsDeps, store: UnknownClusterStore, id: string): Promise<void> {
  const cluster = await store.get(id);
  if (!cluster) throw new ClusterNotFoundError(`no unknown cluster ${id} in ${store.collection}`);
  await store.delete(id);
  await deleteUnknownThumbnails(deps.blobs, cluster.representatives);
}

/** The content hash that makes a promoted representative one face however often naming is retried. */
const promotedHash = (repId: string) => createHash('sha256').update(`unknown-representative:${repId}`).digest('hex');

/**
 * Promote a cluster's representatives to faces of `identity` in the same collection (made when
 * `create`, else it must exist), each with its thumbnail, then end the cluster: it keeps its
 * counts and the identity it became, and nothing biometric. Past job results are not rewritten.
 */
export async function nameCluster(
  deps: ClusterOpsDeps,
  target: { store: UnknownClusterStore; gallery: CollectionGallery },
  request: { id: string; identity: string; create: boolean },
): Promise<UnknownCluster> {
  const { store, gallery } = target;
  const cluster = await openCluster(store, request.id);
  if (!request.create && !(await gallery.getIdentity(request.identity))) {
    throw new IdentityMissingError(`no identity ${JSON.stringify(request.identity)} in ${store.collection}; send create: true to make it`);
  }
  for (const rep of cluster.representatives) {
    const contentHash = promotedHash(rep.id);
    const face = (await gallery.findFaceByHash(request.identity, contentHash)) ?? (await gallery.addFace(request.identity, { descriptor: rep.descriptor, source: `job:${rep.jobId}`, pipeline: cluster.pipeline, contentHash }));
    const thumb = await deps.blobs.get(unknownThumbnailKey(rep.id)).catch((err: unknown) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
    if (thumb) await deps.blobs.put(thumbnailKey(face.id), thumb, { contentType: 'image/jpeg' });
  }
  // Nothing biometric stays: no representatives, no sightings, no template (a mean descriptor).
  const { template: _template, ...rest } = cluster;
  const named: UnknownCluster = { ...rest, state: 'named', identity: request.identity, representatives: [], recent: [] };
  let saved: UnknownCluster;
  try {
    saved = await store.save(named, cluster.version);
  } catch (err) {
    // Joined by a new sighting meanwhile: name it again (the faces added above are found by hash).
    if (err instanceof VersionConflictError) return nameCluster(deps, target, request);
    throw err;
  }
  await deleteUnknownThumbnails(deps.blobs, cluster.representatives);
  deps.log.info({ collection: store.collection, cluster: cluster.id, faces: cluster.representatives.length }, 'unknown cluster named');
  return saved;
}

/**
 * Retention: delete the clusters of `store` last seen before `cutoff`, with their thumbnails.
 * Returns how many were deleted.
 */
export async function expireClusters(deps: ClusterOpsDeps, store: UnknownClusterStore, cutoff: Date): Promise<number> {
  let deleted = 0;
  const before = cutoff.toISOString();
  for (const c of await store.list()) {
    if (c.lastSeen >= before) continue;
    if (await store.delete(c.id)) deleted += 1;
    await deleteUnknownThumbnails(deps.blobs, c.representatives);
  }
  return deleted;
}
