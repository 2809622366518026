import type { Point } from './align.js';
import type { HeadPose } from './pose.js';
import type { FaceQuality } from './quality.js';

/**
 * Terminology
 * - face: one detected face in an image: its box, detection score and descriptor.
 * - descriptor: the 128-d embedding of a face (dlib ResNet, via face-api). Distance is Euclidean.
 * - identity: a named person in the gallery, enrolled with one or more faces.
 * - gallery: all identities and their face descriptors.
 * - match: the nearest identity when the 1:N rule names it (close enough, and clear of the
 *   second-nearest identity: `./decision.ts`); otherwise `null` (unknown), with a `reason`.
 * - candidates: the top-k nearest identities, nearest first, whatever the rule.
 */

/**
 * How the engine makes descriptors. `standard` (the default): detection cascade, face-api's 68
 * landmarks in two passes, dlib's chip, face-api's quantised copy of dlib's ResNet, mirror
 * averaged. `dlib-ensemble`: the same faces plus any only dlib's CNN detector finds, each
 * descriptor the mean of the standard one with dlib's float32 weights and one from dlib's own
 * detector and 5-point shape predictor (`./ensemble.ts`); about 2.4x the cost on small images
 * and 9x on large photos, higher LFW accuracy (docs/recognition.md).
 */
export type RecognitionPipeline = 'standard' | 'dlib-ensemble';

/**
 * A stored pipeline name as a {@link RecognitionPipeline}: absent (faces stored before pipelines
 * were recorded) is `standard`; an unknown name is kept, typed loosely, so a newer writer's faces
 * still read as "another pipeline".
 */
export function toPipeline(stored: string | null | undefined): RecognitionPipeline {
  return (stored ?? 'standard') as RecognitionPipeline;
}

export type { Point };

/** A box in original-image pixels (after EXIF rotation). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Candidate {
  identity: string;
  distance: number;
}

export interface DetectedFace {
  box: Box;
  score: number;
  descriptor: Float32Array;
  /** face-api's 68 landmarks (refined), in image pixels; absent from test doubles. */
  landmarks?: Point[];
  /** Yaw, pitch and roll in degrees, from the landmarks (`./pose.ts`). */
  pose?: HeadPose;
  /** How usable the face is (`./quality.ts`); the one field quality gates read (`isLowQuality`). */
  quality?: FaceQuality;
}

/** A recognised face as the API, the CLI and job results show it (no descriptor). */
export interface RecognizedFace {
  box: Box;
  score: number;
  match: Candidate | null;
  /**
   * Present exactly when `match` is null: nobody close enough, two identities too close to call,
   * or a face whose quality score is under the request's `minQuality` (not matched at all).
   */
  reason?: 'no-close-identity' | 'ambiguous' | 'low-quality';
  candidates: Candidate[];
  /** 5 points (eye centres, nose tip, mouth corners; see `fiveLandmarks`), or all 68 when asked. */
  landmarks?: Point[];
  pose?: HeadPose;
  quality?: FaceQuality;
  /** In a collection that tracks unknowns: the anonymous cluster this unknown face belongs to (docs/unknowns.md). */
  unknown?: { id: string; sightings: number; firstSeen: string };
}

/** A recognised face with its descriptor, as the engine returns it. */
export interface RecognizedFaceWithDescriptor extends RecognizedFace {
  descriptor: Float32Array;
}

/** The result of one image: the same shape in the CLI's `--json`, in job results and over HTTP. */
export interface RecognitionResult {
  width: number;
  height: number;
  faces: RecognizedFace[];
}

export interface MatchOptions {
  /** How many candidates to return. Default 3. */
  topK: number;
  /** Faces whose quality score is below this are not matched (`reason: "low-quality"`). Default 0: every face is. */
  minQuality?: number;
  /** Landmarks per face in the result: 5 (default) or 68. */
  landmarks?: 5 | 68;
  /** Largest distance to the nearest identity that can still match (the rule's threshold). */
  threshold: number;
  /** Smallest gap to the second-nearest identity (the rule's margin); 0 turns it off. */
  margin: number;
  /** Smallest cohort score of the nearest identity against the next ones (the rule's cohort, ./decision.ts); 0 turns it off. */
  cohort?: number;
  /** Weight of the margin in the closeness score (the rule's marginWeight, ./decision.ts); default the rule's. */
  marginWeight?: number;
  /** Weight of an identity's template against its nearest face in its distance (the rule's templateWeight); default the rule's. Ignored with `scoring: 'template'`. */
  templateWeight?: number;
  /**
   * How an identity is scored: `face`, the distance to its nearest face (the default), or
   * `template`, the distance to the mean of its faces (an exact scan over identities, whose
   * rule defaults are TEMPLATE_RULE in ./decision.ts).
   */
  scoring?: 'face' | 'template';
}

/** One enrolled face as the matcher sees it. */
export interface GalleryFace {
  identity: string;
  descriptor: Float32Array;
}

/** Decoded, detected and described: what the engine makes of one image. */
export interface AnalyzedImage {
  /** Size after EXIF rotation. */
  width: number;
  height: number;
  faces: DetectedFace[];
}

/**
 * The recognition engine, loaded once per process (`loadEngine()` in `./engine.ts`).
 * Inference is serialised inside one engine; run several processes for parallelism.
 */
export interface Engine {
  /** Backend in use: `ort` (ONNX Runtime, docs/engine.md), or TensorFlow.js's `tensorflow` (tfjs-node) or `wasm`. */
  readonly backend: string;
  /** The detection strategy, for logs and benchmarks. */
  readonly detector: string;
  /** The recognition pipeline; absent means `standard` (test doubles). */
  readonly pipeline?: RecognitionPipeline;
  /** Decode, detect, align and describe. Throws ImageError subclasses (`./errors.ts`) for unusable input. */
  analyze(image: Buffer): Promise<AnalyzedImage>;
  /** Run each net once on a blank image so the first request is not slower than the rest; absent on test doubles. */
  warmUp?(): Promise<void>;
  close(): Promise<void>;
}
