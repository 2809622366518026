import type { Logger } from '../log.js';
import type { BlobStore } from '../store/ports.js';

/**
 * A blob write the request gave up on (its deadline passed, or the store failed) may still
 * land afterwards: the 503 says nothing was kept, so once the write settles, either way, the
 * key is deleted. A delete that fails too is left to the orphan sweep (`jobs/orphan-inputs.ts`).
 */
export function discardLateWrite(blobs: BlobStore, key: string, write: Promise<unknown>, log: Logger): Promise<void> {
  return write
    .then(
      () => undefined,
      () => undefined,
    )
    .then(() => blobs.delete(key))
    .then(
      () => log.info({ key }, 'upload abandoned by its request deleted'),
      (err: unknown) => log.warn({ err, key }, 'abandoned upload not deleted; the orphan sweep removes it'),
    );
}
