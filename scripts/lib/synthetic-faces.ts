/**
 * Synthetic face descriptors for `bench:gallery` at sizes LFW cannot reach (13,233 images).
 *
 * Descriptors are drawn from a Gaussian model fitted to LFW's cached descriptors: identity centres
 * from N(mu, B), where B is the covariance of LFW's per-person mean descriptors, and each face of
 * an identity from N(centre, W), where W is the covariance of LFW's faces about their person's
 * mean (people with 2 or more images). So distances within and between identities, and how the
 * variance spreads over the 128 dimensions, are LFW's. Independent uniform noise instead (every
 * dimension alike) would make all identities equidistant, which no real descriptor is and which
 * defeats any index that is not a full scan.
 */
import { seededRandom } from '../../src/random.js';

const DIM = 128;

export interface FaceModel {
  mean: Float64Array;
  /** Lower-triangular Cholesky factors (row-major DIM x DIM) of B and W. */
  between: Float64Array;
  within: Float64Array;
  /** sqrt(2 tr W) and sqrt(2 tr (B + W)): typical distances within and between identities. */
  typicalWithin: number;
  typicalBetween: number;
}

function covariance(vectors: Float64Array[], mean: Float64Array): Float64Array {
  const c = new Float64Array(DIM * DIM);
  for (const v of vectors) {
    for (let i = 0; i < DIM; i++) {
      const di = v[i]! - mean[i]!;
      for (let j = 0; j <= i; j++) c[i * DIM + j] += di * (v[j]! - mean[j]!);
    }
  }
  for (let i = 0; i < DIM; i++) for (let j = 0; j <= i; j++) c[j * DIM + i] = c[i * DIM + j] /= vectors.length;
  return c;
}

function cholesky(a: Float64Array): Float64Array {
  const l = new Float64Array(DIM * DIM);
  for (let i = 0; i < DIM; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * DIM + j]! + (i === j ? 1e-9 : 0);
      for (let k = 0; k < j; k++) s -= l[i * DIM + k]! * l[j * DIM + k]!;
      l[i * DIM + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * DIM + j]!;
    }
  }
  return l;
}

const trace = (a: Float64Array) => Array.from({ length: DIM }, (_, i) => a[i * DIM + i]!).reduce((x, y) => x + y, 0);

/** Fit the model to descriptors grouped by person. */
export function fitFaceModel(people: Map<string, Float32Array[]>): FaceModel {
  const means: Float64Array[] = [];
  const deviations: Float64Array[] = [];
  for (const faces of people.values()) {
    const m = new Float64Array(DIM);
    for (const f of faces) for (let i = 0; i < DIM; i++) m[i] += f[i]! / faces.length;
    means.push(m);
    if (faces.length >= 2) {
      // Scaled so the deviations' covariance estimates W without the bias of a mean taken from them.
      const s = Math.sqrt(faces.length / (faces.length - 1));
      for (const f of faces) deviations.push(Float64Array.from(m, (v, i) => (f[i]! - v) * s));
    }
  }
  const mean = new Float64Array(DIM);
  for (const m of means) for (let i = 0; i < DIM; i++) mean[i] += m[i]! / means.length;
  const b = covariance(means, mean);
  const w = covariance(deviations, new Float64Array(DIM));
  return {
    mean,
    between: cholesky(b),
    within: cholesky(w),
    typicalWithin: Math.sqrt(2 * trace(w)),
    typicalBetween: Math.sqrt(2 * (trace(b) + trace(w))),
  };
}

/** A seeded sampler of identity centres and of faces about a centre. */
export function faceSampler(model: FaceModel, seed: number) {
  const r = seededRandom(seed);
  let spare: number | null = null;
  const normal = () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  };
  const draw = (base: ArrayLike<number>, l: Float64Array) => {
    const z = Array.from({ length: DIM }, normal);
    const out = new Float32Array(DIM);
    for (let i = 0; i < DIM; i++) {
      let s = base[i]!;
      for (let k = 0; k <= i; k++) s += l[i * DIM + k]! * z[k]!;
      out[i] = s;
    }
    return out;
  };
  return {
    centre: () => draw(model.mean, model.between),
    face: (centre: Float32Array) => draw(centre, model.within),
  };
}
