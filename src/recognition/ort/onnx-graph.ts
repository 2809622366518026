/**
 * A small writer for ONNX graphs: float32 initialisers, nodes with int/ints/float/string attributes,
 * one float32 input and output, serialised with ONNX's own protobuf schema (`onnx-proto`).
 * Enough for the engine's fixed convolutional nets; nothing here runs a graph.
 */
import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

/** The opset the graphs are written for (ONNX Runtime 1.x runs it). */
export const OPSET = 13;
const IR_VERSION = 7;

type Attr = number | number[] | { float: number } | { string: string };

/** A dimension: a fixed size, or a name for a free one (the batch). */
export type Dim = number | string;

export class OnnxGraph {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with a readable prefix. */
  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** A float32 constant (weights, biases, means). */
  constant(prefix: string, data: Float32Array, dims: number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new RangeError(`${prefix}: ${data.length} values for dims [${dims.join(', ')}]`);
    const name = this.fresh(prefix);
    // Copy: the TypedArray may view a larger buffer (or a tensor's), and raw data is little-endian bytes.
    const bytes = new Uint8Array(new Float32Array(data).buffer);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  /** An int64 constant (shapes, pads). */
  int64(prefix: string, values: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
    return name;
  }

  /** One node; returns the name of its (single) output. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const output = this.fresh(type.toLowerCase());
    const attribute: OnnxNs.IAttributeProto[] = Object.entries(attrs).map(([name, v]) => {
      if (Array.isArray(v)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
      if (typeof v === 'number') return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
      if ('string' in v) return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v.string) };
      return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.float };
    });
    this.nodes.push({ opType: type, input: inputs, output: [output], name: output, attribute });
    return output;
  }

  /** The serialised model: `input` feeds the graph, `output` is its result. */
  encode(input: { name: string; dims: Dim[] }, output: { value: string; name: string; dims: Dim[] }): Uint8Array {
    // Rename the last value to the public output name through an Identity node.
    this.nodes.push({ opType: 'Identity', input: [output.value], output: [output.name], name: `${output.name}_identity` });
    const valueInfo = (name: string, dims: Dim[]): OnnxNs.IValueInfoProto => ({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const model: OnnxNs.IModelProto = {
      irVersion: IR_VERSION,
      producerName: 'facefleet',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(input.name, input.dims)],
        output: [valueInfo(output.name, output.dims)],
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

/** A TensorFlow conv filter `[kh, kw, cin, cout]` as ONNX's `[cout, cin, kh, kw]`. */
export function convFilter(data: Float32Array, shape: number[]): { data: Float32Array; dims: number[] } {
  const [kh, kw, cin, cout] = shape;
  const out = new Float32Array(data.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++) out[((o * cin + c) * kh + i) * kw + j] = data[((i * kw + j) * cin + c) * cout + o];
  return { data: out, dims: [cout, cin, kh, kw] };
}

/** A TensorFlow depthwise filter `[kh, kw, c, 1]` as ONNX's grouped `[c, 1, kh, kw]`. */
export function depthwiseFilter(data: Float32Array, shape: number[]): { data: Float32Array; dims: number[] } {
  const [kh, kw, c, mult] = shape;
  if (mult !== 1) throw new RangeError(`depthwise multiplier ${mult} is not supported`);
  const out = new Float32Array(data.length);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let k = 0; k < c; k++) out[(k * kh + i) * kw + j] = data[(i * kw + j) * c + k];
  return { data: out, dims: [c, 1, kh, kw] };
}

/**
 * TensorFlow's padding for one spatial axis as ONNX `[begin, end]`: `valid` none, `same` the
 * total `(out-1)*stride + k - in` split with the odd pixel at the end, as TensorFlow does.
 */
export function tfPads(size: number, kernel: number, stride: number, padding: 'same' | 'valid'): { begin: number; end: number; out: number } {
  if (padding === 'valid') return { begin: 0, end: 0, out: Math.floor((size - kernel) / stride) + 1 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { begin: Math.floor(total / 2), end: total - Math.floor(total / 2), out };
}
