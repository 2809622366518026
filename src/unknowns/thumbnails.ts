import { storeThumbnail } from '../jobs/thumbnails.js';
import type { Logger } from '../log.js';
import type { Box } from '../recognition/types.js';
import type { BlobStore, UnknownRepresentative } from '../store/ports.js';

/**
 * Blob key of a representative's thumbnail (a 112 px JPEG, as enrolled faces have). Named by the
 * representative, not the cluster, so a representative that survives a merge keeps its file and
 * nothing left in the blob store names a merged-away cluster.
 */
export function unknownThumbnailKey(representativeId: string): string {
  return `unknowns/${representativeId}.jpg`;
}

/** Store a representative's thumbnail. Best effort, as for enrolled faces: a failure is logged. */
export function storeUnknownThumbnail(deps: { blobs: BlobStore; log: Logger }, rep: { id: string; image: Buffer; box: Box; maxInputPixels?: number }): Promise<boolean> {
  return storeThumbnail(deps, unknownThumbnailKey(rep.id), rep, { representative: rep.id });
}

/** Delete the thumbnails of representatives a cluster no longer has. */
export async function deleteUnknownThumbnails(blobs: BlobStore, reps: ReadonlyArray<Pick<UnknownRepresentative, 'id'>>): Promise<void> {
  await Promise.all(reps.map((r) => blobs.delete(unknownThumbnailKey(r.id))));
}
