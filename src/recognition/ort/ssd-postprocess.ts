/**
 * face-api's SSD post-processing on plain arrays: `outputLayer`'s box decoding against the
 * anchors and the class sigmoid, and `nonMaxSuppression`, with the same arithmetic and the same
 * order of operations. Decoding rounds every step to float32 (`Math.fround`), as TensorFlow.js
 * computes it on float32 tensors; suppression reads the float32 boxes in double precision, as
 * face-api's does from `arraySync()`. face-api's own suppression reads the whole box tensor back
 * for every pair it compares; this one reads it once, which is most of SSD's time on wasm.
 */

const f = Math.fround;

/** The IoU threshold face-api's `SsdMobilenetv1.locateFaces` suppresses at. */
export const SSD_IOU_THRESHOLD = 0.5;

/**
 * Decode one image's predictions: `predictions` `[boxes * 7]` (4 box encodings, 3 class
 * logits per anchor) against `anchors` `[boxes * 4]` (face-api's `extra_dim`). Returns the boxes
 * `[boxes * 4]` as `[ymin, xmin, ymax, xmax]` relative to the 512 px input, and each anchor's
 * face score (the sigmoid of class logit 1).
 */
export function decodeSsd(predictions: Float32Array, anchors: Float32Array, values = 7): { boxes: Float32Array; scores: Float32Array } {
  const n = anchors.length / 4;
  if (!Number.isInteger(n) || predictions.length !== n * values) throw new RangeError(`SSD decode: ${predictions.length} predictions for ${anchors.length / 4} anchors`);
  const boxes = new Float32Array(n * 4);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = i * 4, p = i * values;
    const size0 = f(anchors[a + 2] - anchors[a]);
    const size1 = f(anchors[a + 3] - anchors[a + 1]);
    const centre0 = f(anchors[a] + f(size0 / 2));
    const centre1 = f(anchors[a + 1] + f(size1 / 2));
    const half0 = f(f(f(Math.exp(f(predictions[p + 2] / 5))) * size0) / 2);
    const mid0 = f(f(f(predictions[p] / 10) * size0) + centre0);
    const half1 = f(f(f(Math.exp(f(predictions[p + 3] / 5))) * size1) / 2);
    const mid1 = f(f(f(predictions[p + 1] / 10) * size1) + centre1);
    boxes[a] = mid0 - half0;
    boxes[a + 1] = mid1 - half1;
    boxes[a + 2] = mid0 + half0;
    boxes[a + 3] = mid1 + half1;
    // Logits follow the 4 encodings; face-api keeps class 1 (class 0 is the background).
    scores[i] = 1 / (1 + Math.exp(-predictions[p + 5]));
  }
  return { boxes, scores };
}

/** face-api's `IOU` of boxes i and j (`[ymin, xmin, ymax, xmax]`, either corner order). */
function iouOf(boxes: Float32Array, i: number, j: number): number {
  const a = i * 4, b = j * 4;
  const yminI = Math.min(boxes[a], boxes[a + 2]), xminI = Math.min(boxes[a + 1], boxes[a + 3]);
  const ymaxI = Math.max(boxes[a], boxes[a + 2]), xmaxI = Math.max(boxes[a + 1], boxes[a + 3]);
  const yminJ = Math.min(boxes[b], boxes[b + 2]), xminJ = Math.min(boxes[b + 1], boxes[b + 3]);
  const ymaxJ = Math.max(boxes[b], boxes[b + 2]), xmaxJ = Math.max(boxes[b + 1], boxes[b + 3]);
  const areaI = (ymaxI - yminI) * (xmaxI - xminI);
  const areaJ = (ymaxJ - yminJ) * (xmaxJ - xminJ);
  if (areaI <= 0 || areaJ <= 0) return 0;
  const inter = Math.max(Math.min(ymaxI, ymaxJ) - Math.max(yminI, yminJ), 0) * Math.max(Math.min(xmaxI, xmaxJ) - Math.max(xminI, xminJ), 0);
  return inter / (areaI + areaJ - inter);
}

/**
 * face-api's `nonMaxSuppression`: candidates over `scoreThreshold`, best first (a stable sort,
 * so ties keep anchor order), each kept unless it overlaps a kept box by more than
 * `iouThreshold`; at most `maxOutputSize` kept. Returns the kept anchors' indices, best first.
 */
export function ssdNonMaxSuppression(boxes: Float32Array, scores: ArrayLike<number>, maxOutputSize: number, iouThreshold: number, scoreThreshold: number): number[] {
  const outputSize = Math.min(maxOutputSize, boxes.length / 4);
  const candidates: Array<{ score: number; index: number }> = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > scoreThreshold) candidates.push({ score: scores[i], index: i });
  candidates.sort((a, b) => b.score - a.score);
  const selected: number[] = [];
  for (const c of candidates) {
    if (selected.length >= outputSize) break;
    let suppressed = false;
    // face-api multiplies the score by 0 on an overlap and stops once it is at or under the
    // threshold; with a non-negative threshold that is the first overlap found.
    for (let j = selected.length - 1; j >= 0; --j) {
      const iou = iouOf(boxes, c.index, selected[j]);
      if (iou === 0) continue;
      if (iou > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) selected.push(c.index);
  }
  return selected;
}
