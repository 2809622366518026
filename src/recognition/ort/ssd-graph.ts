/**
 * face-api's SSD MobileNet v1 face detector as an ONNX graph, layer for layer as
 * `SsdMobilenetv1.forwardInput` runs it on its fixed 512x512 input: `x / 127.5 - 1`, the
 * MobileNet v1 body (a 3x3/2 convolution, then 13 depthwise-separable pairs; depthwise with
 * batch norm, pointwise with a bias; every one clipped to 0..6), the eight extra feature layers
 * and six box predictors. The graph stops at the predictors' raw outputs: decoding against
 * the anchors (`output_layer.extra_dim`), the sigmoid and non-maximum suppression are done in
 * ./ssd-postprocess.ts as face-api's `outputLayer` and `nonMaxSuppression` do them.
 */
import { OnnxGraph, convFilter, depthwiseFilter, tfPads } from './onnx-graph.js';
import type { ReadWeight } from './descriptor-graph.js';

/** face-api's batch-norm epsilon in `mobileNetV1.ts`. */
const BN_EPSILON = 0.0010000000474974513;

/** Input side, names, and the per-anchor output: 4 box encodings then 3 class logits. */
export const SSD_IO = { input: 'image', output: 'predictions', side: 512, boxes: 5118, values: 7 } as const;

interface Pointwise {
  filters: unknown;
  batch_norm_offset: unknown;
}
interface Depthwise {
  filters: unknown;
  batch_norm_scale: unknown;
  batch_norm_offset: unknown;
  batch_norm_mean: unknown;
  batch_norm_variance: unknown;
}
interface Conv {
  filters: unknown;
  bias: unknown;
}
interface BoxPredictor {
  box_encoding_predictor: Conv;
  class_predictor: Conv;
}
/** The params object of a loaded face-api SsdMobilenetv1. */
export interface SsdParams {
  mobilenetv1: Record<string, Pointwise | { depthwise_conv: Depthwise; pointwise_conv: Pointwise }>;
  prediction_layer: Record<string, Pointwise | BoxPredictor>;
  output_layer: { extra_dim: unknown };
}

/** An NCHW value and its (square) spatial side. */
interface Value {
  name: string;
  side: number;
}

function clip6(g: OnnxGraph, x: string): string {
  return g.op('Clip', [x, g.constant('zero', new Float32Array([0]), []), g.constant('six', new Float32Array([6]), [])]);
}

/** TensorFlow `same` padding for a square input, as ONNX `pads` and the output side. */
function samePads(side: number, kernel: number, stride: number): { pads: number[]; out: number } {
  const p = tfPads(side, kernel, stride, 'same');
  return { pads: [p.begin, p.begin, p.end, p.end], out: p.out };
}

/** face-api's `pointwiseConvLayer`: conv2d 'same' (any kernel), + offset, clip 0..6. */
function pointwise(g: OnnxGraph, read: ReadWeight, x: Value, p: Pointwise, stride: number): Value {
  const f = read(p.filters);
  const w = convFilter(f.data, f.shape);
  const { pads, out } = samePads(x.side, f.shape[0], stride);
  const conv = g.op('Conv', [x.name, g.constant('w', w.data, w.dims), g.constant('b', read(p.batch_norm_offset).data, [w.dims[0]])], {
    kernel_shape: [f.shape[0], f.shape[1]],
    strides: [stride, stride],
    pads,
  });
  return { name: clip6(g, conv), side: out };
}

/** face-api's `depthwiseConvLayer`: depthwise 3x3 'same', batch norm, clip 0..6. */
function depthwise(g: OnnxGraph, read: ReadWeight, x: Value, p: Depthwise, stride: number): Value {
  const f = read(p.filters);
  const w = depthwiseFilter(f.data, f.shape);
  const c = w.dims[0];
  const { pads, out } = samePads(x.side, f.shape[0], stride);
  const conv = g.op('Conv', [x.name, g.constant('dw', w.data, w.dims)], { kernel_shape: [f.shape[0], f.shape[1]], strides: [stride, stride], pads, group: c });
  const bn = g.op(
    'BatchNormalization',
    [conv, g.constant('bn_scale', read(p.batch_norm_scale).data, [c]), g.constant('bn_offset', read(p.batch_norm_offset).data, [c]), g.constant('bn_mean', read(p.batch_norm_mean).data, [c]), g.constant('bn_var', read(p.batch_norm_variance).data, [c])],
    { epsilon: { float: BN_EPSILON } },
  );
  return { name: clip6(g, bn), side: out };
}

/** face-api's `convLayer` (1x1 'same' + bias) reshaped as TensorFlow's NHWC `[N, -1, k]`. */
function predictor(g: OnnxGraph, read: ReadWeight, x: Value, p: Conv, k: number): string {
  const f = read(p.filters);
  const w = convFilter(f.data, f.shape);
  const { pads } = samePads(x.side, f.shape[0], 1);
  const conv = g.op('Conv', [x.name, g.constant('w', w.data, w.dims), g.constant('b', read(p.bias).data, [w.dims[0]])], { kernel_shape: [f.shape[0], f.shape[1]], pads });
  const nhwc = g.op('Transpose', [conv], { perm: [0, 2, 3, 1] });
  return g.op('Reshape', [nhwc, g.int64('shape', [0, -1, k])]);
}

/**
 * The ONNX bytes of the SSD net: `image` `[N, 3, 512, 512]` (face-api's square-padded, resized
 * batch, 0..255, in channel planes) in, `predictions` `[N, 5118, 7]` out: per anchor, face-api's box encoding
 * (4 values) and its class logits (3 values), in face-api's anchor order.
 */
export function buildSsdGraph(params: SsdParams, read: ReadWeight): Uint8Array {
  const g = new OnnxGraph('ssd_mobilenetv1');
  const m = params.mobilenetv1;
  // The input comes in channel planes (./ssd-detector.ts writes them so): no transpose.
  const scaled = g.op('Sub', [g.op('Div', [SSD_IO.input, g.constant('scale_127_5', new Float32Array([127.5]), [])]), g.constant('one', new Float32Array([1]), [])]);
  let x: Value = { name: scaled, side: SSD_IO.side };
  x = pointwise(g, read, x, m.conv_0 as Pointwise, 2);
  let conv11: Value | null = null;
  for (let layer = 1; layer <= 13; layer++) {
    const pair = m[`conv_${layer}`] as { depthwise_conv: Depthwise; pointwise_conv: Pointwise };
    // face-api's getStridesForLayerIdx: layers 2, 4, 6 and 12 halve the side.
    x = depthwise(g, read, x, pair.depthwise_conv, [2, 4, 6, 12].includes(layer) ? 2 : 1);
    x = pointwise(g, read, x, pair.pointwise_conv, 1);
    if (layer === 11) conv11 = x;
  }
  if (!conv11) throw new RangeError('SSD graph: no conv_11 feature map');
  const pl = params.prediction_layer;
  const features: Value[] = [conv11, x];
  let y = x;
  for (let i = 0; i < 8; i++) {
    y = pointwise(g, read, y, pl[`conv_${i}`] as Pointwise, i % 2 === 1 ? 2 : 1);
    if (i % 2 === 1) features.push(y);
  }
  const boxes: string[] = [];
  const classes: string[] = [];
  features.forEach((f, i) => {
    const bp = pl[`box_predictor_${i}`] as BoxPredictor;
    boxes.push(predictor(g, read, f, bp.box_encoding_predictor, 4));
    classes.push(predictor(g, read, f, bp.class_predictor, 3));
  });
  const out = g.op('Concat', [g.op('Concat', boxes, { axis: 1 }), g.op('Concat', classes, { axis: 1 })], { axis: 2 });
  return g.encode({ name: SSD_IO.input, dims: ['N', 3, SSD_IO.side, SSD_IO.side] }, { value: out, name: SSD_IO.output, dims: ['N', SSD_IO.boxes, SSD_IO.values] });
}
