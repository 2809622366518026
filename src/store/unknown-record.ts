/**
 * How both adapters store an unknown cluster: the representatives' descriptors as one run of
 * little-endian Float32 (so no descriptor is ever written as text), and everything else as JSON.
 */
import { endianness } from 'node:os';
import type { UnknownCluster, UnknownRepresentative } from './ports.js';
import { StorePermanentError } from './errors.js';

export interface StoredCluster {
  descriptors: Buffer;
  body: string;
}

const LITTLE_ENDIAN = endianness() === 'LE';

type Body = Omit<UnknownCluster, 'representatives' | 'version'> & { representatives: Array<Omit<UnknownRepresentative, 'descriptor'> & { dim: number }> };

export function encodeCluster(cluster: UnknownCluster): StoredCluster {
  const total = cluster.representatives.reduce((n, r) => n + r.descriptor.length, 0);
  const descriptors = Buffer.allocUnsafe(total * 4);
  let o = 0;
  for (const r of cluster.representatives) for (let i = 0; i < r.descriptor.length; i++, o += 4) descriptors.writeFloatLE(r.descriptor[i]!, o);
  const { version: _v, representatives, ...rest } = cluster;
  const body: Body = { ...rest, representatives: representatives.map(({ descriptor, ...r }) => ({ ...r, dim: descriptor.length })) };
  return { descriptors, body: JSON.stringify(body) };
}

export function decodeCluster(stored: { descriptors: Uint8Array; body: string }, version: number): UnknownCluster {
  const body = JSON.parse(stored.body) as Body;
  const bytes = Buffer.from(stored.descriptors.buffer, stored.descriptors.byteOffset, stored.descriptors.byteLength);
  let o = 0;
  const representatives = body.representatives.map(({ dim, ...r }) => {
    if (o + dim * 4 > bytes.length) throw new StorePermanentError(`unknown cluster ${body.id}: descriptors are cut short`);
    let descriptor: Float32Array;
    if (LITTLE_ENDIAN) {
      // One copy of the bytes, aligned, instead of a read per value.
      descriptor = new Float32Array(Uint8Array.prototype.slice.call(bytes, o, o + dim * 4).buffer);
      o += dim * 4;
    } else {
      descriptor = new Float32Array(dim);
      for (let i = 0; i < dim; i++, o += 4) descriptor[i] = bytes.readFloatLE(o);
    }
    return { ...r, descriptor };
  });
  return { ...body, representatives, version };
}
