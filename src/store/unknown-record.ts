/**
 * How both adapters store an unknown cluster: the representatives' descriptors, then the
 * template's mean when there is one, as one run of little-endian Float32 (so no descriptor is
 * ever written as text), and everything else as JSON.
 */
import { endianness } from 'node:os';
import type { UnknownCluster, UnknownRepresentative } from './ports.js';
import { StorePermanentError } from './errors.js';

export interface StoredCluster {
  descriptors: Buffer;
  body: string;
}

const LITTLE_ENDIAN = endianness() === 'LE';

type Body = Omit<UnknownCluster, 'representatives' | 'version' | 'template'> & {
  representatives: Array<Omit<UnknownRepresentative, 'descriptor'> & { dim: number }>;
  template?: { dim: number; faces: number };
};

export function encodeCluster(cluster: UnknownCluster): StoredCluster {
  const runs = [...cluster.representatives.map((r) => r.descriptor), ...(cluster.template ? [cluster.template.mean] : [])];
  const descriptors = Buffer.allocUnsafe(runs.reduce((n, d) => n + d.length, 0) * 4);
  let o = 0;
  for (const d of runs) for (let i = 0; i < d.length; i++, o += 4) descriptors.writeFloatLE(d[i]!, o);
  const { version: _v, representatives, template, ...rest } = cluster;
  const body: Body = {
    ...rest,
    representatives: representatives.map(({ descriptor, ...r }) => ({ ...r, dim: descriptor.length })),
    ...(template ? { template: { dim: template.mean.length, faces: template.faces } } : {}),
  };
  return { descriptors, body: JSON.stringify(body) };
}

export function decodeCluster(stored: { descriptors: Uint8Array; body: string }, version: number): UnknownCluster {
  const body = JSON.parse(stored.body) as Body;
  const bytes = Buffer.from(stored.descriptors.buffer, stored.descriptors.byteOffset, stored.descriptors.byteLength);
  let o = 0;
  const next = (dim: number): Float32Array => {
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
    return descriptor;
  };
  const representatives = body.representatives.map(({ dim, ...r }) => ({ ...r, descriptor: next(dim) }));
  const { template, ...rest } = body;
  return { ...rest, representatives, ...(template ? { template: { mean: next(template.dim), faces: template.faces } } : {}), version };
}
