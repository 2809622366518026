import { buildGalleryIndex, type GalleryIndexKernel } from './gallery-index.js';
import { decide, DEFAULT_RULE, identityDistance, ruleCandidates, TEMPLATE_RULE, type UnknownReason } from './decision.js';
import { fiveLandmarks } from './align.js';
import { isLowQuality } from './quality.js';
import { toPipeline, type AnalyzedImage, type Candidate, type DetectedFace, type GalleryFace, type MatchOptions, type RecognitionPipeline, type RecognitionResult, type RecognizedFace } from './types.js';

/** Defaults of {@link MatchOptions}: top 3 candidates and the 1:N rule of `./decision.ts`. */
export const DEFAULT_MATCH: MatchOptions = { topK: 3, ...DEFAULT_RULE };

/** Euclidean distance between two descriptors of equal length. */
export function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`descriptor lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

export interface MatchResult {
  /** The nearest identity when the rule (`./decision.ts`) names it; `null` means unknown. */
  match: Candidate | null;
  /** Why `match` is null; null when it is set. */
  reason: UnknownReason | null;
  /** Up to `topK` identities, nearest first, whatever the rule. */
  candidates: Candidate[];
}

export interface GalleryIndex {
  /** Number of faces indexed. */
  readonly size: number;
  /** Nearest identities to a descriptor. Options default to {@link DEFAULT_MATCH}. */
  match(descriptor: Float32Array, options?: Partial<MatchOptions>): MatchResult;
}

/**
 * An in-memory index over gallery faces: an identity's distance is that of its nearest face.
 * Exact search by {@link GalleryIndexKernel}; the accept/reject decision is made here.
 */
export function createGalleryIndex(faces: GalleryFace[]): GalleryIndex {
  return galleryIndexOver(buildGalleryIndex(faces.map((f, i) => ({ id: String(i), identity: f.identity, descriptor: f.descriptor }))));
}

/** The matcher over a kernel that is kept current elsewhere (a worker's per-collection index). */
export function galleryIndexOver(kernel: GalleryIndexKernel): GalleryIndex {
  return {
    get size() {
      return kernel.size;
    },
    match(descriptor, options = {}) {
      const templates = options.scoring === 'template';
      const rule = templates ? TEMPLATE_RULE : DEFAULT_RULE;
      const topK = options.topK ?? DEFAULT_MATCH.topK;
      const threshold = options.threshold ?? rule.threshold;
      const margin = options.margin ?? rule.margin;
      const cohort = options.cohort ?? rule.cohort;
      const marginWeight = options.marginWeight ?? rule.marginWeight;
      const templateWeight = templates ? 0 : (options.templateWeight ?? rule.templateWeight ?? 0);
      if (kernel.size === 0) return { match: null, reason: 'no-close-identity', candidates: [] };
      // The rule needs the second identity for its margin, the cohort after it, and the identities to re-score with templates, even when fewer are returned.
      const k = Math.max(ruleCandidates({ cohort, templateWeight }), topK);
      let ranked = templates ? kernel.nearestTemplates(descriptor, k) : kernel.nearest(descriptor, k);
      if (templateWeight) {
        // Each identity's distance blends its nearest face with its template (./decision.ts, identityDistance); re-ranked on that.
        const t = kernel.templateDistances(descriptor, ranked.map((c) => c.identity));
        ranked = ranked
          .map((c, i) => ({ identity: c.identity, distance: identityDistance(c.distance, t[i]!, templateWeight) }))
          .sort((a, b) => a.distance - b.distance || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
      }
      const { match, reason } = decide(ranked, { threshold, margin, cohort, marginWeight });
      return { match, reason, candidates: ranked.slice(0, Math.max(0, topK)) };
    },
  };
}

/**
 * Match every face of an analysed image against the gallery. Faces come back largest first,
 * without descriptors: this is the shape the API, the CLI and job results show.
 */
export function recognizeFaces(analyzed: AnalyzedImage, index: GalleryIndex, options: Partial<MatchOptions> = {}): RecognitionResult {
  const minQuality = options.minQuality ?? 0;
  const faces = [...analyzed.faces]
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)
    .map((f) => {
      const found = index.match(f.descriptor, options);
      // A face too poor to judge is not named, and not called a stranger either; its candidates still show.
      const { match, reason } = isLowQuality(f, minQuality) ? { match: null, reason: 'low-quality' as const } : found;
      return { box: { ...f.box }, score: f.score, match, ...(reason ? { reason } : {}), candidates: found.candidates, ...faceDetail(f, options.landmarks ?? 5) };
    });
  return { width: analyzed.width, height: analyzed.height, faces };
}

/** The landmarks (5 or all 68), pose and quality a result shows of a face, when the engine gave them. */
export function faceDetail(f: DetectedFace, landmarks: 5 | 68): Pick<RecognizedFace, 'landmarks' | 'pose' | 'quality'> {
  const out: Pick<RecognizedFace, 'landmarks' | 'pose' | 'quality'> = {};
  if (f.landmarks) out.landmarks = landmarks === 68 ? f.landmarks.map((p) => ({ x: Math.round(p.x * 10) / 10, y: Math.round(p.y * 10) / 10 })) : fiveLandmarks(f.landmarks);
  if (f.pose) out.pose = { ...f.pose };
  if (f.quality) out.quality = { ...f.quality };
  return out;
}

/**
 * The warning for a gallery that holds faces enrolled with another pipeline than `pipeline`, or
 * null. Those faces are still matched, but their descriptors sit 0.05-0.08 away from this
 * pipeline's for the same face, so matching them is less accurate; re-enrolling fixes it.
 */
export function otherPipelineWarning(faces: ReadonlyArray<{ identity: string; pipeline?: RecognitionPipeline }>, pipeline: RecognitionPipeline): string | null {
  const other = faces.filter((f) => toPipeline(f.pipeline) !== pipeline);
  if (other.length === 0) return null;
  const pipelines = [...new Set(other.map((f) => toPipeline(f.pipeline)))].sort().join(', ');
  const identities = new Set(other.map((f) => f.identity)).size;
  const counted = other.length === 1 ? '1 gallery face of 1 identity was' : `${other.length} gallery faces of ${identities} ${identities === 1 ? 'identity' : 'identities'} were`;
  return `${counted} enrolled with the ${pipelines} pipeline, not ${pipeline}; they are matched less accurately until re-enrolled with --pipeline ${pipeline}`;
}
