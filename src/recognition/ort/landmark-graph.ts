/**
 * face-api's FaceLandmark68Net as an ONNX graph, as face-api's `FaceFeatureExtractor` and
 * `FaceProcessor` run it: mean subtraction and /255, four dense blocks of depthwise-separable
 * convolutions (the first opens with a plain 3x3/2 convolution), a 7x7/2 average pool and the
 * 256x136 fully connected layer. On a 112x112 crop face-api's post-processing is the identity,
 * so the output is the 68 (x, y) pairs relative to the crop.
 */
import { OnnxGraph, convFilter, depthwiseFilter, tfPads } from './onnx-graph.js';
import { normalisedInput, type ReadWeight } from './descriptor-graph.js';

interface SeparableConv {
  depthwise_filter: unknown;
  pointwise_filter: unknown;
  bias: unknown;
}
interface DenseBlock {
  conv0: SeparableConv | { filters: unknown; bias: unknown };
  conv1: SeparableConv;
  conv2: SeparableConv;
  conv3: SeparableConv;
}

interface Value {
  name: string;
  side: number;
}

function padsAttr(side: number, k: number, stride: number) {
  const p = tfPads(side, k, stride, 'same');
  return { pads: [p.begin, p.begin, p.end, p.end], out: p.out };
}

function plainConv(g: OnnxGraph, read: ReadWeight, x: Value, p: { filters: unknown; bias: unknown }, stride: number): Value {
  const f = read(p.filters);
  const w = convFilter(f.data, f.shape);
  const { pads, out } = padsAttr(x.side, f.shape[0], stride);
  const name = g.op('Conv', [x.name, g.constant('w', w.data, w.dims), g.constant('b', read(p.bias).data, [w.dims[0]])], { kernel_shape: [f.shape[0], f.shape[1]], strides: [stride, stride], pads });
  return { name, side: out };
}

/** TensorFlow's `separableConv2d(..., 'same')` plus bias: a grouped 3x3 then a 1x1 with the bias. */
function separableConv(g: OnnxGraph, read: ReadWeight, x: Value, p: SeparableConv, stride: number): Value {
  const d = read(p.depthwise_filter);
  const dw = depthwiseFilter(d.data, d.shape);
  const { pads, out } = padsAttr(x.side, d.shape[0], stride);
  const depth = g.op('Conv', [x.name, g.constant('dw', dw.data, dw.dims)], { kernel_shape: [d.shape[0], d.shape[1]], strides: [stride, stride], pads, group: dw.dims[0] });
  const pw = read(p.pointwise_filter);
  const pwf = convFilter(pw.data, pw.shape);
  const name = g.op('Conv', [depth, g.constant('pw', pwf.data, pwf.dims), g.constant('b', read(p.bias).data, [pwf.dims[0]])], { kernel_shape: [1, 1] });
  return { name, side: out };
}

/** face-api's `denseBlock4` (scale down by 2). */
function denseBlock4(g: OnnxGraph, read: ReadWeight, x: Value, p: DenseBlock, first: boolean): Value {
  const c0 = first ? plainConv(g, read, x, p.conv0 as { filters: unknown; bias: unknown }, 2) : separableConv(g, read, x, p.conv0 as SeparableConv, 2);
  const out1 = g.op('Relu', [c0.name]);
  const v1 = { name: out1, side: c0.side };
  const out2 = separableConv(g, read, v1, p.conv1, 1).name;
  const in3 = g.op('Relu', [g.op('Add', [out1, out2])]);
  const out3 = separableConv(g, read, { name: in3, side: c0.side }, p.conv2, 1).name;
  const in4 = g.op('Relu', [g.op('Add', [out1, g.op('Add', [out2, out3])])]);
  const out4 = separableConv(g, read, { name: in4, side: c0.side }, p.conv3, 1).name;
  return { name: g.op('Relu', [g.op('Add', [out1, g.op('Add', [out2, g.op('Add', [out3, out4])])])]), side: c0.side };
}

export const LANDMARK_IO = { input: 'crops', output: 'landmarks', side: 112 } as const;

/**
 * The ONNX bytes of the 68-point landmark net: `crops` `[N, 112, 112, 3]` RGB 0..255 in,
 * `landmarks` `[N, 136]` (x0, y0, x1, ... relative to the crop) out. `extractor` is the net's
 * `faceFeatureExtractor.params`, `fc` its `params.fc`.
 */
export function buildLandmarkGraph(extractor: Record<string, unknown>, fc: { weights: unknown; bias: unknown }, read: ReadWeight): Uint8Array {
  const g = new OnnxGraph('face_landmark_68_net');
  const blocks = extractor as Record<string, DenseBlock>;
  let x: Value = { name: normalisedInput(g, LANDMARK_IO.input), side: LANDMARK_IO.side };
  x = denseBlock4(g, read, x, blocks.dense0, true);
  x = denseBlock4(g, read, x, blocks.dense1, false);
  x = denseBlock4(g, read, x, blocks.dense2, false);
  x = denseBlock4(g, read, x, blocks.dense3, false);
  if (x.side !== 7) throw new RangeError(`landmark net: expected a 7x7 feature map, got ${x.side}`);
  const pooled = g.op('Flatten', [g.op('AveragePool', [x.name], { kernel_shape: [7, 7], strides: [2, 2] })]);
  const w = read(fc.weights);
  const out = g.op('Add', [g.op('MatMul', [pooled, g.constant('fc_w', w.data, w.shape)]), g.constant('fc_b', read(fc.bias).data, [w.shape[1]])]);
  return g.encode({ name: LANDMARK_IO.input, dims: ['N', 112, 112, 3] }, { value: out, name: LANDMARK_IO.output, dims: ['N', 136] });
}
