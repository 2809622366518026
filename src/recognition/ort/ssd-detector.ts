/**
 * face-api's SSD MobileNet v1 detector with its net on ONNX Runtime: `locateFaces` as face-api
 * writes it (`SsdMobilenetv1.locateFaces`): the 512x512 input prepared as face-api's NetInput
 * does (square-padded at the bottom and right, resized: {@link ssdInput}), the ORT graph runs the net, and
 * ./ssd-postprocess.ts decodes and suppresses as face-api does; the boxes are scaled back with
 * face-api's own padding arithmetic and returned as face-api `FaceDetection`s.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { FaceRuntime } from '../backend.js';
import type { OrtNets } from './ort-nets.js';
import { SSD_IO } from './ssd-graph.js';
import { decodeSsd, SSD_IOU_THRESHOLD, ssdNonMaxSuppression } from './ssd-postprocess.js';

type FaceApi = FaceRuntime['faceapi'];
type FaceDetection = InstanceType<FaceApi['FaceDetection']>;

/**
 * face-api's SSD input for one `[height, width, 3]` image: `padToSquare` (zeros appended at the
 * bottom or the right) then `resizeBilinear` to `side` (no corner alignment, no half-pixel
 * centres), as TensorFlow.js computes them, in one pass over the pixels it samples. On a large
 * photo this spares TensorFlow.js casting and padding every pixel to float first.
 */
export function ssdInput(data: ArrayLike<number>, height: number, width: number, side: number = SSD_IO.side): Float32Array {
  const square = Math.max(height, width);
  const out = new Float32Array(side * side * 3);
  const at = (y: number, x: number, c: number): number => (y < height && x < width ? data[(y * width + x) * 3 + c] : 0);
  if (square === side) {
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let c = 0; c < 3; c++) out[(y * side + x) * 3 + c] = at(y, x, c);
    return out;
  }
  const ratio = square / side;
  const cols = new Int32Array(side * 2);
  const colFrac = new Float64Array(side);
  for (let x = 0; x < side; x++) {
    const src = ratio * x;
    cols[2 * x] = Math.max(0, Math.floor(src));
    cols[2 * x + 1] = Math.min(square - 1, Math.ceil(src));
    colFrac[x] = src - cols[2 * x];
  }
  for (let y = 0; y < side; y++) {
    const src = ratio * y;
    const top = Math.max(0, Math.floor(src));
    const bottom = Math.min(square - 1, Math.ceil(src));
    const rowFrac = src - top;
    for (let x = 0; x < side; x++) {
      const left = cols[2 * x], right = cols[2 * x + 1], fx = colFrac[x];
      for (let c = 0; c < 3; c++) {
        const tl = at(top, left, c), tr = at(top, right, c), bl = at(bottom, left, c), br = at(bottom, right, c);
        const t = tl + (tr - tl) * fx;
        const b = bl + (br - bl) * fx;
        out[(y * side + x) * 3 + c] = t + (b - t) * rowFrac;
      }
    }
  }
  return out;
}

/** The part of face-api's SsdMobilenetv1 that detect.ts calls. */
export interface SsdLocator {
  locateFaces(input: unknown, options?: { minConfidence?: number; maxResults?: number }): Promise<FaceDetection[]>;
}

/** An SSD locator for `rt`'s face-api whose net runs on `nets` (the anchors are face-api's loaded `extra_dim`). */
export function ortSsdDetector(rt: FaceRuntime, nets: OrtNets): SsdLocator {
  const { faceapi, tf } = rt;
  const params = (faceapi.nets.ssdMobilenetv1 as unknown as { params: { output_layer: { extra_dim: Tf.Tensor } } }).params;
  const anchors = Float32Array.from(params.output_layer.extra_dim.dataSync());
  return {
    async locateFaces(input, options = {}) {
      const { maxResults, minConfidence } = new faceapi.SsdMobilenetv1Options(options);
      if (!(input instanceof tf.Tensor) || input.rank !== 3) throw new TypeError('the ORT SSD detector takes one [height, width, 3] tensor');
      const [height, width] = input.shape;
      const predictions = await nets.ssd(ssdInput(await input.data(), height, width), 1);
      // face-api's locateFaces reads the first image of the batch only.
      const { boxes, scores } = decodeSsd(predictions.subarray(0, SSD_IO.boxes * SSD_IO.values), anchors, SSD_IO.values);
      const indices = ssdNonMaxSuppression(boxes, scores, maxResults, SSD_IOU_THRESHOLD, minConfidence);
      // face-api's computeReshapedDimensions and padding factors.
      const scale = SSD_IO.side / Math.max(height, width);
      const padX = SSD_IO.side / Math.round(width * scale);
      const padY = SSD_IO.side / Math.round(height * scale);
      const imageDims = { height, width };
      return indices.map((i) => {
        const top = Math.max(0, boxes[i * 4]) * padY;
        const bottom = Math.min(1, boxes[i * 4 + 2]) * padY;
        const left = Math.max(0, boxes[i * 4 + 1]) * padX;
        const right = Math.min(1, boxes[i * 4 + 3]) * padX;
        return new faceapi.FaceDetection(scores[i], new faceapi.Rect(left, top, right - left, bottom - top), imageDims);
      });
    },
  };
}
