/**
 * The conv net of face-api's Tiny Face Detector (TinyYolov2 `runMobilenet`, first layer a plain
 * convolution) as an ONNX graph, for any input side: mean subtraction and /255, a 3x3 valid
 * convolution, five 2x2 max pools between depthwise-separable 3x3 convolutions (leaky ReLU,
 * slope 0.1), and the 1x1 box layer. The output is
 * NHWC, as face-api's `extractBoxes` reads it; resizing before and decoding after stay face-api's.
 */
import { OnnxGraph, convFilter, depthwiseFilter } from './onnx-graph.js';
import type { ReadWeight } from './descriptor-graph.js';

/** face-api's TinyFaceDetector mean (RGB). */
const TINY_MEAN_RGB = [117.001, 114.697, 97.404];

interface SeparableConv {
  depthwise_filter: unknown;
  pointwise_filter: unknown;
  bias: unknown;
}
interface Conv {
  filters: unknown;
  bias: unknown;
}

export const TINY_IO = { input: 'image', output: 'grid' } as const;

/**
 * face-api's `relu(x - 0.1x) + 0.1x` is a leaky ReLU with slope 0.1 (equal to within a float
 * rounding for x > 0); as ONNX's LeakyRelu, ONNX Runtime fuses it into the convolution
 * instead of four passes over each feature map.
 */
function leaky(g: OnnxGraph, x: string): string {
  return g.op('LeakyRelu', [x], { alpha: { float: 0.10000000149011612 } });
}

function conv(g: OnnxGraph, read: ReadWeight, x: string, p: Conv, pads: number[]): string {
  const f = read(p.filters);
  const w = convFilter(f.data, f.shape);
  return g.op('Conv', [x, g.constant('w', w.data, w.dims), g.constant('b', read(p.bias).data, [w.dims[0]])], { kernel_shape: [f.shape[0], f.shape[1]], pads });
}

/** face-api's tinyYolov2 `depthwiseSeparableConv`: pad 1, separable 3x3 valid, bias, leaky. */
function separable(g: OnnxGraph, read: ReadWeight, x: string, p: SeparableConv): string {
  const d = read(p.depthwise_filter);
  const dw = depthwiseFilter(d.data, d.shape);
  const depth = g.op('Conv', [x, g.constant('dw', dw.data, dw.dims)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: dw.dims[0] });
  const pw = read(p.pointwise_filter);
  const pwf = convFilter(pw.data, pw.shape);
  return leaky(g, g.op('Conv', [depth, g.constant('pw', pwf.data, pwf.dims), g.constant('b', read(p.bias).data, [pwf.dims[0]])], { kernel_shape: [1, 1] }));
}

/** TensorFlow's 2x2 `maxPool(..., 'same')`: the odd pixel padded at the end, padding never wins. */
const maxPool = (g: OnnxGraph, x: string, stride: number): string => g.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [stride, stride], auto_pad: { string: 'SAME_UPPER' } });

/**
 * The ONNX bytes of the tiny detector's net: `image` `[N, H, W, 3]` (face-api's resized,
 * zero-padded square batch, 0..255) in, `grid` `[N, H', W', 25]` out.
 */
export function buildTinyGraph(params: Record<string, unknown>, read: ReadWeight): Uint8Array {
  const g = new OnnxGraph('tiny_face_detector');
  const p = params as Record<string, SeparableConv> & { conv0: Conv; conv8: Conv };
  const mean = g.constant('mean_rgb', new Float32Array(TINY_MEAN_RGB), [3]);
  const scaled = g.op('Div', [g.op('Sub', [TINY_IO.input, mean]), g.constant('scale_255', new Float32Array([255]), [])]);
  let x = g.op('Transpose', [scaled], { perm: [0, 3, 1, 2] });
  x = leaky(g, conv(g, read, x, p.conv0, [0, 0, 0, 0]));
  x = maxPool(g, x, 2);
  for (const name of ['conv1', 'conv2', 'conv3', 'conv4']) x = maxPool(g, separable(g, read, x, p[name]), 2);
  x = maxPool(g, separable(g, read, x, p.conv5), 1);
  if (p.conv6) x = separable(g, read, x, p.conv6);
  if (p.conv7) x = separable(g, read, x, p.conv7);
  x = conv(g, read, x, p.conv8, [0, 0, 0, 0]);
  const out = g.op('Transpose', [x], { perm: [0, 2, 3, 1] });
  return g.encode({ name: TINY_IO.input, dims: ['N', 'H', 'W', 3] }, { value: out, name: TINY_IO.output, dims: ['N', 'GH', 'GW', 'C'] });
}
