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
 * photo this spares TensorFlow.js casting and padding every pixel to float first. The result is
 * `[3, side, side]`, one plane per channel, as the SSD graph takes it (no transpose in the graph).
 *
 * `margin` > 0: the image as if first framed by `margin` pixels of `fill` on every side (what
 * detect.ts's padded passes give face-api with `tf.pad`); `height` and `width` stay the
 * unframed image's.
 */
export function ssdInput(data: ArrayLike<number>, height: number, width: number, side: number = SSD_IO.side, margin = 0, fill = 0): Float32Array {
  const fh = height + 2 * margin, fw = width + 2 * margin;
  const square = Math.max(fh, fw);
  const out = new Float32Array(side * side * 3);
  // One pixel's channel c of the framed, square-padded image.
  const at = (y: number, x: number, c: number): number => {
    if (y >= fh || x >= fw) return 0;
    const iy = y - margin, ix = x - margin;
    return iy < 0 || ix < 0 || iy >= height || ix >= width ? fill : data[(iy * width + ix) * 3 + c];
  };
  const plane = side * side;
  if (square === side) {
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let c = 0; c < 3; c++) out[c * plane + y * side + x] = at(y, x, c);
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
  // Where each row and column of the framed square falls: 0 outside the framed image (face-api's
  // zero padding), 1 in the frame (`fill`), 2 in the image (then its row or column there).
  const kind = (i: number, framedSide: number, imageSide: number): number => (i >= framedSide ? 0 : i - margin < 0 || i - margin >= imageSide ? 1 : 2);
  const colKind = new Uint8Array(side * 2);
  const colOffset = new Int32Array(side * 2);
  for (let i = 0; i < side * 2; i++) {
    colKind[i] = kind(cols[i], fw, width);
    colOffset[i] = (cols[i] - margin) * 3;
  }
  const value = (rowKind: number, rowOffset: number, k: number, c: number): number => {
    const m = rowKind < colKind[k] ? rowKind : colKind[k];
    return m === 0 ? 0 : m === 1 ? fill : data[rowOffset + colOffset[k] + c];
  };
  // Columns whose two source columns both lie in the image: read straight from `data` there.
  const inner = new Uint8Array(side);
  for (let x = 0; x < side; x++) inner[x] = colKind[2 * x] === 2 && colKind[2 * x + 1] === 2 ? 1 : 0;
  for (let y = 0; y < side; y++) {
    const src = ratio * y;
    const top = Math.max(0, Math.floor(src));
    const bottom = Math.min(square - 1, Math.ceil(src));
    const rowFrac = src - top;
    const topKind = kind(top, fh, height), bottomKind = kind(bottom, fh, height);
    // Both rows in the zero padding: every value is 0, as `out` already holds.
    if (topKind === 0 && bottomKind === 0) continue;
    const topOffset = (top - margin) * width * 3, bottomOffset = (bottom - margin) * width * 3;
    const rowsInner = topKind === 2 && bottomKind === 2;
    for (let x = 0, o = y * side; x < side; x++, o++) {
      const fx = colFrac[x];
      const l = 2 * x, r = 2 * x + 1;
      if (rowsInner && inner[x] === 1) {
        // The same arithmetic as below, on the four pixels themselves.
        const tl0 = topOffset + colOffset[l], tr0 = topOffset + colOffset[r];
        const bl0 = bottomOffset + colOffset[l], br0 = bottomOffset + colOffset[r];
        for (let c = 0; c < 3; c++) {
          const tl = data[tl0 + c], tr = data[tr0 + c], bl = data[bl0 + c], br = data[br0 + c];
          const t = tl + (tr - tl) * fx;
          const b = bl + (br - bl) * fx;
          out[o + c * plane] = t + (b - t) * rowFrac;
        }
        continue;
      }
      for (let c = 0; c < 3; c++) {
        const tl = value(topKind, topOffset, l, c), tr = value(topKind, topOffset, r, c);
        const bl = value(bottomKind, bottomOffset, l, c), br = value(bottomKind, bottomOffset, r, c);
        const t = tl + (tr - tl) * fx;
        const b = bl + (br - bl) * fx;
        out[o + c * plane] = t + (b - t) * rowFrac;
      }
    }
  }
  return out;
}

/** The part of face-api's SsdMobilenetv1 that detect.ts calls. */
export interface SsdLocator {
  locateFaces(input: unknown, options?: { minConfidence?: number; maxResults?: number }): Promise<FaceDetection[]>;
  /**
   * {@link locateFaces} on packed RGB pixels framed by `margin` pixels of `fill` (as `tf.pad`
   * frames them), without making a tensor of them: the same detections, in framed-image pixels.
   */
  locateFacesRgb(img: { data: ArrayLike<number>; width: number; height: number }, margin: number, fill: number, options?: { minConfidence?: number; maxResults?: number }): Promise<FaceDetection[]>;
}

/** An SSD locator for `rt`'s face-api whose net runs on `nets` (the anchors are face-api's loaded `extra_dim`). */
export function ortSsdDetector(rt: FaceRuntime, nets: OrtNets): SsdLocator {
  const { faceapi, tf } = rt;
  const params = (faceapi.nets.ssdMobilenetv1 as unknown as { params: { output_layer: { extra_dim: Tf.Tensor } } }).params;
  const anchors = Float32Array.from(params.output_layer.extra_dim.dataSync());
  async function locate(pixels: ArrayLike<number>, h: number, w: number, margin: number, fill: number, options: { minConfidence?: number; maxResults?: number }): Promise<FaceDetection[]> {
    const { maxResults, minConfidence } = new faceapi.SsdMobilenetv1Options(options);
    const predictions = await nets.ssd(ssdInput(pixels, h, w, SSD_IO.side, margin, fill), 1);
    // face-api's locateFaces reads the first image of the batch only.
    const { boxes, scores } = decodeSsd(predictions.subarray(0, SSD_IO.boxes * SSD_IO.values), anchors, SSD_IO.values);
    const indices = ssdNonMaxSuppression(boxes, scores, maxResults, SSD_IOU_THRESHOLD, minConfidence);
    // face-api's computeReshapedDimensions and padding factors, on the framed image.
    const height = h + 2 * margin, width = w + 2 * margin;
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
  }
  return {
    async locateFaces(input, options = {}) {
      if (!(input instanceof tf.Tensor) || input.rank !== 3) throw new TypeError('the ORT SSD detector takes one [height, width, 3] tensor');
      const [height, width] = input.shape;
      return locate(await input.data(), height, width, 0, 0, options);
    },
    locateFacesRgb: (img, margin, fill, options = {}) => locate(img.data, img.height, img.width, margin, fill, options),
  };
}
