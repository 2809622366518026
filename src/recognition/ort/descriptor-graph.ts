/**
 * face-api's FaceRecognitionNet (dlib's ResNet-29) as an ONNX graph, layer for layer as
 * face-api's `FaceRecognitionNet.forwardInput` runs it: mean subtraction and /255, a 7x7/2
 * stem, a 3x3/2 max pool, residual stages at 32, 64, 128 and 256 channels, a global mean and
 * the 256x128 projection. The weights are the ones face-api holds after loading its manifest
 * (its dequantised 8-bit copy, or dlib's float32 file), read back from the loaded net, so the
 * dequantisation is face-api's own.
 */
import { OnnxGraph, convFilter, tfPads } from './onnx-graph.js';

/** A weight as the graph builders read it: values and TensorFlow shape. */
export interface Weight {
  data: Float32Array;
  shape: number[];
}

/** Reads a face-api parameter (a tf tensor) into a {@link Weight}. */
export type ReadWeight = (tensor: unknown) => Weight;

/** face-api's per-channel mean (RGB) that both its nets subtract before /255. */
export const MEAN_RGB = [122.782, 117.001, 104.298];

interface ConvLayer {
  conv: { filters: unknown; bias: unknown };
  scale: { weights: unknown; biases: unknown };
}
interface Residual {
  conv1: ConvLayer;
  conv2: ConvLayer;
}

/** Tracks the NCHW value and its spatial side while the graph is written. */
interface Value {
  name: string;
  side: number;
  channels: number;
}

/**
 * The NHWC float input `[N, side, side, 3]` (0..255), normalised as face-api does, as NCHW.
 * Transposed first: the same values (a transpose only moves them), but the mean is then
 * subtracted from whole channel planes, where on NHWC ONNX Runtime broadcast it three values
 * at a time (a tenth of the descriptor net's time on 8 chips).
 */
export function normalisedInput(g: OnnxGraph, input: string): string {
  const nchw = g.op('Transpose', [input], { perm: [0, 3, 1, 2] });
  const mean = g.constant('mean_rgb', new Float32Array(MEAN_RGB), [3, 1, 1]);
  const centred = g.op('Sub', [nchw, mean]);
  return g.op('Div', [centred, g.constant('scale_255', new Float32Array([255]), [])]);
}

function convLayer(g: OnnxGraph, read: ReadWeight, x: Value, p: ConvLayer, stride: number, relu: boolean, padding: 'same' | 'valid'): Value {
  const f = read(p.conv.filters);
  const k = f.shape[0];
  const pads = tfPads(x.side, k, stride, padding);
  const w = convFilter(f.data, f.shape);
  const cout = w.dims[0];
  const bias = read(p.conv.bias).data;
  let out = g.op('Conv', [x.name, g.constant('w', w.data, w.dims), g.constant('b', bias, [cout])], {
    kernel_shape: [k, k],
    strides: [stride, stride],
    pads: [pads.begin, pads.begin, pads.end, pads.end],
  });
  // face-api's scale layer: x * weights + biases, per channel.
  out = g.op('Mul', [out, g.constant('scale_w', read(p.scale.weights).data, [cout, 1, 1])]);
  out = g.op('Add', [out, g.constant('scale_b', read(p.scale.biases).data, [cout, 1, 1])]);
  if (relu) out = g.op('Relu', [out]);
  return { name: out, side: pads.out, channels: cout };
}

function residual(g: OnnxGraph, read: ReadWeight, x: Value, p: Residual): Value {
  const a = convLayer(g, read, x, p.conv1, 1, true, 'same');
  const b = convLayer(g, read, a, p.conv2, 1, false, 'same');
  return { ...b, name: g.op('Relu', [g.op('Add', [b.name, x.name])]) };
}

/**
 * face-api's `residualDown`: a strided branch, and a 2x2 average pool of the input zero-padded
 * in channels (and the branch zero-padded at the bottom and right when the sides differ).
 */
function residualDown(g: OnnxGraph, read: ReadWeight, x: Value, p: Residual): Value {
  const a = convLayer(g, read, x, p.conv1, 2, true, 'valid');
  const b = convLayer(g, read, a, p.conv2, 1, false, 'same');
  let branch = b.name;
  const pooledSide = Math.floor((x.side - 2) / 2) + 1;
  let pooled = g.op('AveragePool', [x.name], { kernel_shape: [2, 2], strides: [2, 2] });
  if (pooledSide !== b.side) {
    const grow = pooledSide - b.side;
    if (grow < 0) throw new RangeError(`residualDown: branch side ${b.side} exceeds pooled side ${pooledSide}`);
    branch = g.op('Pad', [branch, g.int64('pads', [0, 0, 0, 0, 0, 0, grow, grow])]);
  }
  if (x.channels !== b.channels) {
    pooled = g.op('Pad', [pooled, g.int64('pads', [0, 0, 0, 0, 0, b.channels - x.channels, 0, 0])]);
  }
  return { name: g.op('Relu', [g.op('Add', [pooled, branch])]), side: pooledSide, channels: b.channels };
}

/** The params object of a loaded face-api FaceRecognitionNet. */
export type RecognitionParams = Record<string, unknown> & { fc: unknown };

/** Input and output names of the descriptor graph. */
export const DESCRIPTOR_IO = { input: 'chips', output: 'descriptors', side: 150 } as const;

/** The ONNX bytes of the descriptor net: `chips` `[N, 150, 150, 3]` RGB 0..255 in, `descriptors` `[N, 128]` out. */
export function buildDescriptorGraph(params: RecognitionParams, read: ReadWeight): Uint8Array {
  const g = new OnnxGraph('face_recognition_net');
  const p = params as unknown as Record<string, Residual> & { conv32_down: ConvLayer };
  let x: Value = { name: normalisedInput(g, DESCRIPTOR_IO.input), side: DESCRIPTOR_IO.side, channels: 3 };
  x = convLayer(g, read, x, p.conv32_down, 2, true, 'valid');
  x = { ...x, name: g.op('MaxPool', [x.name], { kernel_shape: [3, 3], strides: [2, 2] }), side: Math.floor((x.side - 3) / 2) + 1 };
  for (const name of ['conv32_1', 'conv32_2', 'conv32_3']) x = residual(g, read, x, p[name]);
  x = residualDown(g, read, x, p.conv64_down);
  for (const name of ['conv64_1', 'conv64_2', 'conv64_3']) x = residual(g, read, x, p[name]);
  x = residualDown(g, read, x, p.conv128_down);
  for (const name of ['conv128_1', 'conv128_2']) x = residual(g, read, x, p[name]);
  x = residualDown(g, read, x, p.conv256_down);
  for (const name of ['conv256_1', 'conv256_2']) x = residual(g, read, x, p[name]);
  x = residualDown(g, read, x, p.conv256_down_out);
  const mean = g.op('Flatten', [g.op('GlobalAveragePool', [x.name])]);
  const fc = read(params.fc);
  const out = g.op('MatMul', [mean, g.constant('fc', fc.data, fc.shape)]);
  return g.encode({ name: DESCRIPTOR_IO.input, dims: ['N', 150, 150, 3] }, { value: out, name: DESCRIPTOR_IO.output, dims: ['N', 128] });
}
