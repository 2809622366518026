/**
 * dlib's MMOD face detector net (./mmod.ts reads it from `mmod_human_face_detector.dat`) as an
 * ONNX graph for any input size: its convolutions with the affine (batch-norm) layers already
 * folded in by the reader, each but the last followed by a ReLU, with dlib's strides and
 * symmetric paddings. The input is the tiled pyramid, mean-subtracted and divided by 256 as
 * mmod.ts prepares it; the output is the one score map. Building the pyramid, reading the
 * scores and suppression stay in mmod.ts.
 */
import type { MmodModel } from '../mmod.js';
import { OnnxGraph, convFilter } from './onnx-graph.js';

export const MMOD_IO = { input: 'pyramid', output: 'scores' } as const;

/** The ONNX bytes of the MMOD net: `pyramid` `[1, H, W, 3]` in, `scores` `[1, 1, H', W']` out. */
export function buildMmodGraph(model: MmodModel): Uint8Array {
  const g = new OnnxGraph('dlib_mmod');
  let x = g.op('Transpose', [MMOD_IO.input], { perm: [0, 3, 1, 2] });
  for (const l of model.layers) {
    const w = convFilter(l.weights, [l.rows, l.cols, l.inputs, l.filters]);
    x = g.op('Conv', [x, g.constant('w', w.data, w.dims), g.constant('b', l.bias, [l.filters])], {
      kernel_shape: [l.rows, l.cols],
      strides: [l.strideY, l.strideX],
      pads: [l.padY, l.padX, l.padY, l.padX],
    });
    if (l.relu) x = g.op('Relu', [x]);
  }
  return g.encode({ name: MMOD_IO.input, dims: [1, 'H', 'W', 3] }, { value: x, name: MMOD_IO.output, dims: [1, 1, 'OH', 'OW'] });
}
