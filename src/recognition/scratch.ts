/**
 * Float32 buffers for the nets' inputs, reused from image to image. A 64x64 crop's analysis
 * used to allocate about 4 MB of fresh ArrayBuffers (the tiny detector's two 320 px inputs, the
 * landmark crops, the descriptor chips and their batches); V8 counts them as external memory
 * and ran a full mark-compact every few images for them. Taken buffers hold stale values: the
 * caller overwrites every value it uses. Concurrent callers each get their own buffer.
 */

/** Spare buffers by length; a few lengths, a couple each, so one large image cannot hoard memory. */
const spares = new Map<number, Float32Array[]>();
const MAX_LENGTHS = 8;
const MAX_PER_LENGTH = 2;
/** Longer buffers are not kept (64 MB of floats). */
const MAX_KEPT_LENGTH = 16 * 1024 * 1024;

/** A buffer of exactly `length` floats, stale contents: a spare one when there is one. */
export function takeFloats(length: number): Float32Array {
  return spares.get(length)?.pop() ?? new Float32Array(length);
}

/** Hand a buffer from {@link takeFloats} back once nothing reads it any more. */
export function giveFloats(buffer: Float32Array): void {
  const length = buffer.length;
  if (length === 0 || length > MAX_KEPT_LENGTH || buffer.byteOffset !== 0 || buffer.buffer.byteLength !== buffer.byteLength) return;
  let list = spares.get(length);
  if (!list) {
    if (spares.size >= MAX_LENGTHS) spares.delete(spares.keys().next().value!);
    list = [];
    spares.set(length, list);
  }
  if (list.length < MAX_PER_LENGTH && !list.includes(buffer)) list.push(buffer);
}

/** Run `use` on a taken buffer of `length` floats and give it back after. */
export async function withFloats<T>(length: number, use: (buffer: Float32Array) => Promise<T>): Promise<T> {
  const buffer = takeFloats(length);
  try {
    return await use(buffer);
  } finally {
    giveFloats(buffer);
  }
}
