/**
 * face-api's SSD MobileNet v1 detector with its net on ONNX Runtime: `locateFaces` as face-api
 * writes it (`SsdMobilenetv1.locateFaces`): face-api's NetInput prepares the 512x512 batch
 * (square-padded at the bottom and right, resized), the ORT graph runs the net, and
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

interface NetInputLike {
  inputSize: number | undefined;
  toBatchTensor(inputSize: number, isCenterInputs: boolean): Tf.Tensor4D;
  getReshapedInputDimensions(batchIdx: number): { width: number; height: number };
  getInputHeight(batchIdx: number): number;
  getInputWidth(batchIdx: number): number;
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
      const netInput = (await faceapi.toNetInput(input as never)) as unknown as NetInputLike;
      const batch = tf.tidy(() => tf.cast(netInput.toBatchTensor(SSD_IO.side, false), 'float32')) as Tf.Tensor4D;
      let data: Float32Array;
      try {
        data = (await batch.data()) as Float32Array;
      } finally {
        batch.dispose();
      }
      const predictions = await nets.ssd(data, batch.shape[0]);
      // face-api's locateFaces reads the first image of the batch only.
      const { boxes, scores } = decodeSsd(predictions.subarray(0, SSD_IO.boxes * SSD_IO.values), anchors, SSD_IO.values);
      const indices = ssdNonMaxSuppression(boxes, scores, maxResults, SSD_IOU_THRESHOLD, minConfidence);
      const reshaped = netInput.getReshapedInputDimensions(0);
      const inputSize = netInput.inputSize as number;
      const padX = inputSize / reshaped.width;
      const padY = inputSize / reshaped.height;
      const imageDims = { height: netInput.getInputHeight(0), width: netInput.getInputWidth(0) };
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
