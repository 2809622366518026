import type { Logger } from '../log.js';
import type { Gallery } from '../store/ports.js';
import { createGalleryIndex, otherPipelineWarning } from '../recognition/matcher.js';
import type { RecognitionPipeline } from '../recognition/types.js';

type GalleryIndex = ReturnType<typeof createGalleryIndex>;

/**
 * The worker's in-memory copy of the gallery. It asks the Gallery for its version at most
 * every `checkIntervalMs` (default 250 ms) and reloads every face only when the version
 * changed, so a busy worker pays one cheap read per job instead of a full scan. Each reload that
 * finds faces enrolled with another pipeline than `pipeline` logs a warning.
 */
export function createGalleryCache(
  gallery: Gallery,
  options: { checkIntervalMs?: number; now?: () => number; pipeline?: RecognitionPipeline; log?: Pick<Logger, 'warn'> } = {},
) {
  const checkIntervalMs = options.checkIntervalMs ?? 250;
  const now = options.now ?? Date.now;
  let index: GalleryIndex | undefined;
  let version: string | undefined;
  let checkedAt = -Infinity;

  return {
    /** The current index; reloads when the gallery's version moved on. */
    async get(): Promise<GalleryIndex> {
      if (index && now() - checkedAt < checkIntervalMs) return index;
      const current = await gallery.version();
      checkedAt = now();
      if (!index || current !== version) {
        const faces = await gallery.listFaces();
        index = createGalleryIndex(faces);
        version = current;
        const warning = otherPipelineWarning(faces, options.pipeline ?? 'standard');
        if (warning) options.log?.warn({ galleryVersion: current }, warning);
      }
      return index;
    },
    /** Forget the copy, e.g. right after this worker enrolled a face. */
    invalidate(): void {
      index = undefined;
    },
  };
}
