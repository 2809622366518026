/**
 * face-api's Tiny Face Detector with its conv net on ONNX Runtime: a TinyFaceDetector of its own
 * holding the loaded one's weights, whose `forwardInput` hands the batch face-api prepared
 * (square-padded, resized) to the ORT graph and returns the grid as a tensor. Everything around
 * it (preparing the input, decoding boxes, non-maximum suppression) is face-api's own code, so
 * the boxes are face-api's. The shared face-api net is left untouched: a wasm engine in the same
 * process keeps using it.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { FaceRuntime } from '../backend.js';
import type { OrtNets } from './ort-nets.js';
import { ortSsdDetector } from './ssd-detector.js';

interface NetInputLike {
  toBatchTensor(inputSize: number, isCenterInputs: boolean): Tf.Tensor4D;
}

/** A TinyFaceDetector for `rt`'s face-api whose conv net runs on `nets`. */
export function ortTinyFaceDetector(rt: FaceRuntime, nets: OrtNets): FaceRuntime['faceapi']['nets']['tinyFaceDetector'] {
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
  return tiny;
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
