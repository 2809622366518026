import { aDescriptor } from './builders.js';

/** `aDescriptor(seed)` moved by `eps` along a direction picked by `k`: the same person, another photo. */
export function near(seed: number, k: number, eps: number): Float32Array {
  const base = aDescriptor(seed);
  const dir = Float32Array.from(base, (_, i) => Math.cos(k * 17 + i * (k + 1)));
  const norm = Math.hypot(...dir);
  return Float32Array.from(base, (v, i) => v + (eps * dir[i]!) / norm);
}
