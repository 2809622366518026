/**
 * The tiny detector's input as face-api prepares it (`NetInput.toBatchTensor(side, false)`):
 * the image, framed by `margin` pixels of `fill` on every side (what detect.ts's padded passes
 * give face-api with `tf.pad`), square-padded with zeros at the bottom or the right
 * (`padToSquare`), then `resizeBilinear` to `side` x `side` (no corner alignment, no half-pixel
 * centres). Computed here from the decoded bytes in float32 arithmetic at every step, as
 * TensorFlow.js's wasm kernel computes it: the same values bit for bit (checked on the fixtures
 * by test/recognition/tiny-input.test.ts), without a tensor of the image, a padded copy, a cast
 * or a read back from the wasm heap.
 */

const f32 = Math.fround;

/** A packed RGB image (rows top to bottom). */
export interface RgbPixels {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/**
 * Write the `side` x `side` x 3 input of `img` framed by `margin` px of `fill` into `out` from
 * `offset` (one image of a batch). TensorFlow.js computes each value as
 * `top + (bottom - top) * rowFrac`, where `top` and `bottom` are the horizontal blends of two
 * source rows; those blends depend only on the source row, so each is made once per source
 * row (two kept at a time) instead of once per output value: the same float32 operations on
 * the same operands, in far fewer passes.
 */
export function tinyInputInto(out: Float32Array, offset: number, img: RgbPixels, side: number, margin = 0, fill = 0): void {
  const { data, width, height } = img;
  const fh = height + 2 * margin, fw = width + 2 * margin;
  const square = Math.max(fh, fw);
  const scale = f32(square / side);
  const row3 = side * 3;
  // Per output column: its two source columns' kind (0: face-api's zero padding, 1: the frame,
  // 2: the image), their byte offsets in an image row, and the blend fraction.
  const colKind = new Uint8Array(side * 2);
  const colOffset = new Int32Array(side * 2);
  const colFrac = new Float32Array(side);
  const kind = (i: number, framed: number, inner: number): number => (i >= framed ? 0 : i - margin < 0 || i - margin >= inner ? 1 : 2);
  for (let x = 0; x < side; x++) {
    const src = f32(x * scale);
    const left = Math.max(0, Math.floor(src)), right = Math.min(square - 1, Math.ceil(src));
    colFrac[x] = f32(src - left);
    colKind[2 * x] = kind(left, fw, width);
    colKind[2 * x + 1] = kind(right, fw, width);
    colOffset[2 * x] = (left - margin) * 3;
    colOffset[2 * x + 1] = (right - margin) * 3;
  }
  // The horizontal blends of the last two source rows asked for.
  const blends = [new Float32Array(row3), new Float32Array(row3)];
  const blendRow = [-1, -1];
  const blendOf = (row: number, keep: number): Float32Array => {
    if (blendRow[0] === row) return blends[0];
    if (blendRow[1] === row) return blends[1];
    const slot = blendRow[0] === keep ? 1 : 0;
    const into = blends[slot];
    blendRow[slot] = row;
    const rowKind = kind(row, fh, height);
    const rowOffset = (row - margin) * width * 3;
    for (let x = 0, o = 0; x < side; x++) {
      const fx = colFrac[x];
      const lk = rowKind < colKind[2 * x] ? rowKind : colKind[2 * x];
      const rk = rowKind < colKind[2 * x + 1] ? rowKind : colKind[2 * x + 1];
      const lo = rowOffset + colOffset[2 * x], ro = rowOffset + colOffset[2 * x + 1];
      for (let c = 0; c < 3; c++, o++) {
        const l = lk === 0 ? 0 : lk === 1 ? fill : data[lo + c];
        const r = rk === 0 ? 0 : rk === 1 ? fill : data[ro + c];
        into[o] = f32(l + f32(f32(r - l) * fx));
      }
    }
    return into;
  };
  let o = offset;
  for (let y = 0; y < side; y++) {
    const src = f32(y * scale);
    const top = Math.max(0, Math.floor(src)), bottom = Math.min(square - 1, Math.ceil(src));
    const rowFrac = f32(src - top);
    const t = blendOf(top, bottom);
    const b = blendOf(bottom, top);
    for (let i = 0; i < row3; i++, o++) out[o] = f32(t[i] + f32(f32(b[i] - t[i]) * rowFrac));
  }
}
