/**
 * "Seen before?": for each face of an image, the nearest identities and the nearest unknown
 * clusters of a collection, with distances. Read-only: no job record, no cluster, no sighting.
 *
 * It is answered through the fleet, not in the web tier: the web tier never loads the model
 * (it stays small, and scales on requests, not on inference). The web tier stores the image
 * under `searches/<id>/input`, sends a queue message carrying `search` (no record behind it),
 * and waits for the worker's answer at `searches/<id>/answer`; it deletes both blobs as soon as
 * it has the answer, or gives up. Queue depth counts searches, so the fleet scales for them too.
 */
import type { GalleryIndex } from '../recognition/matcher.js';
import type { AnalyzedImage, Box, Candidate } from '../recognition/types.js';
import type { UnknownCluster } from '../store/ports.js';
import { distanceToCluster } from './clusters.js';

export const searchInputKey = (id: string) => `searches/${id}/input`;
export const searchAnswerKey = (id: string) => `searches/${id}/answer`;

export interface SearchFace {
  box: Box;
  score: number;
  identities: Candidate[];
  unknowns: Array<{ id: string; distance: number; sightings: number; firstSeen: string; lastSeen: string }>;
}

export interface SearchAnswer {
  width: number;
  height: number;
  faces: SearchFace[];
  /** Set instead of faces when the image could not be used. */
  error?: { code: string; message: string };
}

/** Rank `topK` identities and open clusters for each face, largest face first. */
export function searchFaces(analyzed: AnalyzedImage, index: GalleryIndex, clusters: readonly UnknownCluster[], topK: number): SearchAnswer {
  const open = clusters.filter((c) => c.state === 'open' && c.representatives.length > 0);
  const faces = [...analyzed.faces]
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)
    .map((f) => ({
      box: { ...f.box },
      score: f.score,
      identities: index.match(f.descriptor, { topK }).candidates,
      unknowns: open
        .map((c) => ({ id: c.id, distance: distanceToCluster(f.descriptor, c), sightings: c.sightings, firstSeen: c.firstSeen, lastSeen: c.lastSeen }))
        .sort((a, b) => a.distance - b.distance)
        .slice(0, topK),
    }));
  return { width: analyzed.width, height: analyzed.height, faces };
}
