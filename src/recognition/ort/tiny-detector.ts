/**
 * face-api's Tiny Face Detector with its conv net on ONNX Runtime. `locateFacesRgb` is
 * face-api's `TinyFaceDetector.locateFaces` redone on arrays, the way ./ssd-detector.ts redoes
 * SSD's: the input prepared from the decoded bytes bit for bit as face-api's NetInput does it
 * (./tiny-input.ts), the ORT graph, then face-api's `extractBoxes` arithmetic on the output grid
 * and face-api's own `nonMaxSuppression`, `ObjectDetection` and `FaceDetection` classes: the
 * same detections as face-api's, without TensorFlow.js. `locateFaces` keeps face-api's tensor path (its `forwardInput` handed to the ORT graph)
 * for callers with a tensor. The shared face-api net is left untouched: a wasm engine in the
 * same process keeps using it.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { FaceRuntime } from '../backend.js';
import type { OrtNets } from './ort-nets.js';
import { ortSsdDetector } from './ssd-detector.js';
import { withFloats } from '../scratch.js';
import { tinyInputInto, type RgbPixels } from './tiny-input.js';

type FaceApi = FaceRuntime['faceapi'];
type FaceDetection = InstanceType<FaceApi['FaceDetection']>;

interface NetInputLike {
  toBatchTensor(inputSize: number, isCenterInputs: boolean): Tf.Tensor4D;
}

/** The part of the ORT tiny detector that detect.ts calls. */
export interface TinyLocator {
  /**
   * face-api's `locateFaces` on packed RGB pixels framed by `margin` pixels of `fill` (as
   * `tf.pad` frames them), without making a tensor of them: the same detections, in
   * framed-image pixels.
   */
  locateFacesRgb(img: RgbPixels, margin: number, fill: number, options: { inputSize?: number; scoreThreshold?: number }): Promise<FaceDetection[]>;
}

/** face-api's TinyYolov2 box encoding without class scores (one class): x, y, w, h, score. */
const BOX_ENCODING = 5;

type TinyNet = FaceApi['nets']['tinyFaceDetector'];

/** A TinyFaceDetector for `rt`'s face-api whose conv net runs on `nets`, with {@link TinyLocator}. */
export function ortTinyFaceDetector(rt: FaceRuntime, nets: OrtNets): TinyNet & TinyLocator {
  const { faceapi, tf } = rt;
  const shared = faceapi.nets.tinyFaceDetector as unknown as { params: unknown };
  const tiny = new faceapi.TinyFaceDetector();
  Object.assign(tiny as unknown as Record<string, unknown>, { _params: shared.params });
  // face-api's detect() awaits forwardInput, so an async replacement fits.
  (tiny as unknown as { forwardInput: (input: NetInputLike, inputSize: number) => Promise<Tf.Tensor4D> }).forwardInput = async (input, inputSize) => {
    const batch = tf.tidy(() => tf.cast(input.toBatchTensor(inputSize, false), 'float32')) as Tf.Tensor4D;
    let data: Float32Array;
    const [n, h, w] = batch.shape;
    try {
      data = (await batch.data()) as Float32Array;
    } finally {
      batch.dispose();
    }
    const out = await nets.tiny(data, n, h, w);
    return tf.tensor4d(out.data, out.dims as [number, number, number, number]);
  };
  const config = (tiny as unknown as { config: { anchors: Array<{ x: number; y: number }>; iouThreshold: number; classes: string[] } }).config;
  const { anchors, iouThreshold } = config;
  if (config.classes.length !== 1) throw new TypeError('the ORT tiny detector decodes one class only');

  /** face-api's `detect` then `locateFaces` for one image's grid `[cells, cells, anchors * 5]`. */
  function decode(grid: Float32Array, cells: number, inputSize: number, width: number, height: number, minScore: number): FaceDetection[] {
    // face-api's computeReshapedDimensions and extractBoxes' correction factors.
    const scale = inputSize / Math.max(height, width);
    const reshapedWidth = Math.round(width * scale), reshapedHeight = Math.round(height * scale);
    const blobSide = Math.max(reshapedWidth, reshapedHeight);
    const correctionX = blobSide / reshapedWidth, correctionY = blobSide / reshapedHeight;
    const boxes: InstanceType<FaceApi['BoundingBox']>[] = [];
    const scores: number[] = [];
    let i = 0;
    for (let row = 0; row < cells; row++) {
      for (let col = 0; col < cells; col++) {
        for (let a = 0; a < anchors.length; a++, i += BOX_ENCODING) {
          const score = faceapi.sigmoid(grid[i + 4]);
          if (!(score > minScore)) continue;
          const ctX = ((col + faceapi.sigmoid(grid[i])) / cells) * correctionX;
          const ctY = ((row + faceapi.sigmoid(grid[i + 1])) / cells) * correctionY;
          const w = ((Math.exp(grid[i + 2]) * anchors[a].x) / cells) * correctionX;
          const h = ((Math.exp(grid[i + 3]) * anchors[a].y) / cells) * correctionY;
          const x = ctX - w / 2;
          const y = ctY - h / 2;
          boxes.push(new faceapi.BoundingBox(x, y, x + w, y + h));
          scores.push(score);
        }
      }
    }
    const picked = faceapi.nonMaxSuppression(boxes.map((b) => b.rescale(inputSize)), scores, iouThreshold, true);
    const dims = { width, height };
    return picked.map((k) => {
      // The class score is the score times 1 (one class); face-api's ObjectDetection, then its FaceDetection.
      const det = new faceapi.ObjectDetection(scores[k], scores[k], config.classes[0], boxes[k], dims);
      return new faceapi.FaceDetection(det.score, det.relativeBox, { width: det.imageWidth, height: det.imageHeight });
    });
  }

  const locator: TinyLocator = {
    async locateFacesRgb(img, margin, fill, options) {
      // face-api's options: its checks (input size a multiple of 32, score in (0, 1)) and defaults.
      const { inputSize, scoreThreshold } = new faceapi.TinyFaceDetectorOptions(options);
      const out = await withFloats(inputSize * inputSize * 3, (input) => {
        tinyInputInto(input, 0, img, inputSize, margin, fill);
        return nets.tiny(input, 1, inputSize, inputSize);
      });
      const [, cells, cellsX, depth] = out.dims;
      if (cells !== cellsX || depth !== anchors.length * BOX_ENCODING) throw new RangeError(`unexpected tiny detector grid [${out.dims.join(', ')}]`);
      return decode(out.data, cells, inputSize, img.width + 2 * margin, img.height + 2 * margin, scoreThreshold);
    },
  };
  return Object.assign(tiny, locator) as TinyNet & TinyLocator;
}

/**
 * `rt` with face-api's `nets.tinyFaceDetector` and `nets.ssdMobilenetv1` swapped for the ORT
 * ones (detect.ts finds them there).
 */
export function withOrtDetectors(rt: FaceRuntime, nets: OrtNets): FaceRuntime {
  const ssdMobilenetv1 = ortSsdDetector(rt, nets);
  const faceapi = { ...rt.faceapi, nets: { ...rt.faceapi.nets, tinyFaceDetector: ortTinyFaceDetector(rt, nets), ssdMobilenetv1 } } as unknown as FaceRuntime['faceapi'];
  return { ...rt, faceapi };
}
