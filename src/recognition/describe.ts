/**
 * From a face box to a descriptor: 68 landmarks (face-api's FaceLandmark68Net), an aligned
 * 150x150 chip (`./align.ts`), and the 128-d embedding (face-api's FaceRecognitionNet, dlib's
 * ResNet). All crops are sampled in JavaScript from the decoded RGB buffer; only the nets run
 * in TensorFlow, batched over the faces of one image.
 */
import type { FaceRuntime, RecognitionWeights } from './backend.js';
import type { RgbImage } from './decode.js';
import type { Box } from './types.js';
import { withFloats } from './scratch.js';
import { grayImage, predictShape, rectFromLandmarks } from './shape-predictor.js';
import { CHIP_PADDING, CHIP_SIZE, chipJitters, chipTransform, chipTransform5, FIVE_FROM_68, jitterTransform, mirror, squareCrop, warpAffine, type LandmarkSubset, type Point } from './align.js';

/** How descriptors are made; the defaults are the most accurate measured pipeline. */
export interface DescribeOptions {
  /**
   * `dlib` (default): similarity transform of the landmarks onto dlib's mean face.
   * `box`: face-api's own path, an axis-aligned square around the landmarks' bounding box
   * padded by 20%, no rotation.
   */
  align: 'dlib' | 'box';
  /** Landmarks the dlib fit uses (see {@link LandmarkSubset}). Default `face-api`. */
  subset: LandmarkSubset;
  /**
   * Second landmark pass: the landmark net runs again on a square around the first pass's
   * landmarks, grown by this fraction of its side on each side. `null` = one pass on the
   * detector box. Default {@link DEFAULT_REFINE_MARGIN}.
   */
  refine: number | null;
  /** Average with the descriptor of the mirrored chip. Default true. */
  mirror: boolean;
  /** L2-normalise the final descriptor. Default false (dlib's threshold 0.6 assumes raw descriptors). */
  normalize: boolean;
  /**
   * Test-time jitter, as dlib's `num_jitters`: also average the descriptors of this many
   * slightly perturbed chips (see {@link chipJitters}), each with its mirror when `mirror` is
   * set. 0 = none. Each jitter costs one descriptor pass per chip.
   */
  jitter: number;
  /** The descriptor net's weights (see {@link RecognitionWeights}). Default `face-api`. */
  weights: RecognitionWeights;
  /**
   * dlib's shape predictor after face-api's landmarks (see {@link dlibLandmarks}), and the chip
   * aligned on its points; `null` (default) = align on face-api's 68.
   */
  dlibShape: DlibShape | null;
}

/** Which of dlib's shape predictors, and how many rounds of it. */
export interface DlibShape {
  points: 5 | 68;
  rounds: number;
}

/** Margin of the second landmark pass, tuned on LFW fold 1 only (docs/recognition.md). */
export const DEFAULT_REFINE_MARGIN = 0.1;

export const DEFAULT_DESCRIBE: DescribeOptions = { align: 'dlib', subset: 'dlib', refine: DEFAULT_REFINE_MARGIN, mirror: true, normalize: false, jitter: 0, weights: 'face-api', dlibShape: null };

const LANDMARK_INPUT = 112;

export interface Timings {
  landmarks: number;
  descriptor: number;
}

export interface DescribedFace {
  landmarks: Point[];
  descriptor: Float32Array;
}

/** face-api's landmark net on TensorFlow.js: crop-relative points `[n * 136]` of `n` packed 112x112 crops. */
async function tfLandmarks(rt: FaceRuntime, batch: Float32Array, n: number): Promise<Float32Array> {
  const { tf, faceapi } = rt;
  // face-api takes a batch as an array of 3-D tensors (a 4-D tensor must have batch size 1).
  const parts = tf.tidy(() => tf.unstack(tf.tensor4d(batch, [n, LANDMARK_INPUT, LANDMARK_INPUT, 3])));
  try {
    const out = await faceapi.nets.faceLandmark68Net.forward(parts as never);
    const rel = (await out.data()) as Float32Array;
    out.dispose();
    return rel;
  } finally {
    tf.dispose(parts);
  }
}

/** 68 landmarks per box, in image pixels. Boxes are squared around their centre, as face-api does. */
export async function detectLandmarks(rt: FaceRuntime, img: RgbImage, boxes: Box[]): Promise<Point[][]> {
  if (boxes.length === 0) return [];
  const crops = boxes.map((b) => {
    const side = Math.max(b.width, b.height);
    return { side, x0: b.x + b.width / 2 - side / 2, y0: b.y + b.height / 2 - side / 2, t: squareCrop(b.x + b.width / 2, b.y + b.height / 2, side, LANDMARK_INPUT) };
  });
  const one = LANDMARK_INPUT * LANDMARK_INPUT * 3;
  const rel = await withFloats(boxes.length * one, (batch) => {
    crops.forEach((c, i) => warpAffine(img, c.t, LANDMARK_INPUT, LANDMARK_INPUT, undefined, batch, i * one));
    return rt.ort ? rt.ort.landmarks(batch, boxes.length) : tfLandmarks(rt, batch, boxes.length);
  });
  return crops.map((c, i) => {
    const pts: Point[] = [];
    for (let k = 0; k < 68; k++) pts.push({ x: c.x0 + rel[i * 136 + 2 * k] * c.side, y: c.y0 + rel[i * 136 + 2 * k + 1] * c.side });
    return pts;
  });
}

/**
 * The box for a second landmark pass: the square around the landmarks' bounding box, grown by
 * `margin` of its side on each side. The detectors' boxes are loose and shift with the detector
 * (tiny, SSD, padded canvas); the landmark net gives steadier points on a box drawn from its own
 * first answer.
 */
export function landmarkBox(landmarks: Point[], margin: number): Box {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of landmarks) {
    x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
  }
  const side = Math.max(x1 - x0, y1 - y0) * (1 + 2 * margin);
  return { x: (x0 + x1) / 2 - side / 2, y: (y0 + y1) / 2 - side / 2, width: side, height: side };
}

/** 68 landmarks per box, refined by a second pass when `refine` is a margin (see {@link DescribeOptions.refine}). */
export async function locateLandmarks(rt: FaceRuntime, img: RgbImage, boxes: Box[], refine: number | null): Promise<Point[][]> {
  const first = await detectLandmarks(rt, img, boxes);
  if (refine === null) return first;
  return detectLandmarks(rt, img, first.map((l) => landmarkBox(l, refine)));
}

/**
 * dlib's landmarks for faces given by face-api's 68: the predictor starts from the rectangle
 * that best explains face-api's corresponding points (all 68, or the eye corners and nose base
 * for the 5-point model) under its mean shape ({@link rectFromLandmarks}); each further round
 * starts from the rectangle of the previous round's answer. `null`: face-api's 68 unchanged.
 */
export async function dlibLandmarks(rt: FaceRuntime, img: RgbImage, faces: Point[][], shape: DlibShape | null = DEFAULT_DESCRIBE.dlibShape): Promise<Point[][]> {
  if (faces.length === 0 || !shape || shape.rounds === 0) return faces;
  const sp = await rt.shapePredictor(shape.points);
  const gray = grayImage(img);
  const ids = Array.from({ length: shape.points }, (_, i) => i);
  return faces.map((lm) => {
    let points = shape.points === 5 ? FIVE_FROM_68.map((i) => lm[i]) : lm;
    for (let k = 0; k < shape.rounds; k++) points = predictShape(sp, gray, img.width, img.height, rectFromLandmarks(sp, points, ids));
    return points;
  });
}

/** face-api's descriptor crop: the landmarks' bounding box grown by 20%, squared. */
function boxChipTransform(landmarks: Point[]) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of landmarks) {
    x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
  }
  const side = Math.max(x1 - x0, y1 - y0) * 1.2;
  return squareCrop((x0 + x1) / 2, (y0 + y1) / 2, side, CHIP_SIZE);
}

/** The chip-to-image transform of one face. */
export function faceChipTransform(landmarks: Point[], align: DescribeOptions['align'] = 'dlib', subset: LandmarkSubset = 'dlib') {
  if (align === 'box') return boxChipTransform(landmarks);
  // dlib's 5-point landmarks have their own template; 68-point ones fit the mean face.
  return landmarks.length === 5 ? chipTransform5(landmarks) : chipTransform(landmarks, CHIP_SIZE, CHIP_PADDING, subset);
}


const CHIP_LENGTH = CHIP_SIZE * CHIP_SIZE * 3;

/** How many chips one face's descriptor averages: the chip and each jitter, each with its mirror when `mirror` is set. */
const chipsPerFace = (options: Pick<DescribeOptions, 'mirror' | 'jitter'>): number => (options.mirror ? 2 : 1) * (1 + options.jitter);

/** {@link faceChips} written into `batch` from chip `slot` on; returns the slot after the last. */
function faceChipsInto(batch: Float32Array, slot: number, img: RgbImage, landmarks: Point[], options: Pick<DescribeOptions, 'align' | 'subset' | 'mirror' | 'jitter'>): number {
  const t = faceChipTransform(landmarks, options.align, options.subset);
  for (const tt of [t, ...chipJitters(options.jitter).map((j) => jitterTransform(t, j))]) {
    const at = slot++ * CHIP_LENGTH;
    warpAffine(img, tt, CHIP_SIZE, CHIP_SIZE, undefined, batch, at);
    if (options.mirror) mirror(batch, CHIP_SIZE, CHIP_SIZE, batch, slot++ * CHIP_LENGTH, at);
  }
  return slot;
}

/**
 * Every chip one face's descriptor averages: the aligned chip, then each jitter of it, each
 * followed by its mirror when `mirror` is set.
 */
export function faceChips(img: RgbImage, landmarks: Point[], options: Pick<DescribeOptions, 'align' | 'subset' | 'mirror' | 'jitter'>): Float32Array[] {
  const n = chipsPerFace(options);
  const batch = new Float32Array(n * CHIP_LENGTH);
  faceChipsInto(batch, 0, img, landmarks, options);
  return Array.from({ length: n }, (_, i) => batch.slice(i * CHIP_LENGTH, (i + 1) * CHIP_LENGTH));
}

/** Raw 128-d descriptors `[n * 128]` of `n` 150x150 RGB chips (0..255) packed in `batch`, one forward pass. */
async function describeBatch(rt: FaceRuntime, batch: Float32Array, n: number, weights: RecognitionWeights): Promise<Float32Array> {
  if (rt.ort) return rt.ort.describe(batch, n, weights);
  const { tf } = rt;
  const net = await rt.recognitionNet(weights);
  // face-api takes a batch as an array of 3-D tensors (a 4-D tensor must have batch size 1).
  const parts = tf.tidy(() => tf.unstack(tf.tensor4d(batch, [n, CHIP_SIZE, CHIP_SIZE, 3])));
  try {
    const out = await net.forward(parts as never);
    const flat = (await out.data()) as Float32Array;
    out.dispose();
    return flat;
  } finally {
    tf.dispose(parts);
  }
}

/** Raw 128-d descriptors of ready-made 150x150 RGB chips (0..255), one batched forward pass. */
export async function describeChips(rt: FaceRuntime, chips: Float32Array[], weights: RecognitionWeights = DEFAULT_DESCRIBE.weights): Promise<Float32Array[]> {
  if (chips.length === 0) return [];
  const flat = await withFloats(chips.length * CHIP_LENGTH, (batch) => {
    chips.forEach((chip, i) => batch.set(chip, i * CHIP_LENGTH));
    return describeBatch(rt, batch, chips.length, weights);
  });
  return chips.map((_, i) => flat.slice(i * 128, (i + 1) * 128));
}

/** Mean of descriptors, optionally L2-normalised. */
export function combineDescriptors(list: Float32Array[], normalize: boolean): Float32Array {
  const d = new Float32Array(128);
  for (const x of list) for (let k = 0; k < 128; k++) d[k] += x[k] / list.length;
  if (normalize) {
    let n = 0;
    for (let k = 0; k < 128; k++) n += d[k] * d[k];
    n = Math.sqrt(n) || 1;
    for (let k = 0; k < 128; k++) d[k] /= n;
  }
  return d;
}

/** Descriptors for faces given by their landmarks; one batched forward pass for all chips. */
export async function computeDescriptors(rt: FaceRuntime, img: RgbImage, faces: Point[][], options: DescribeOptions = DEFAULT_DESCRIBE): Promise<Float32Array[]> {
  if (faces.length === 0) return [];
  const per = chipsPerFace(options);
  const n = faces.length * per;
  // The chips are sampled straight into the net's batch.
  const flat = await withFloats(n * CHIP_LENGTH, (batch) => {
    faces.forEach((landmarks, i) => faceChipsInto(batch, i * per, img, landmarks, options));
    return describeBatch(rt, batch, n, options.weights);
  });
  return faces.map((_, i) => combineDescriptors(Array.from({ length: per }, (_, k) => flat.subarray((i * per + k) * 128, (i * per + k + 1) * 128)), options.normalize));
}
