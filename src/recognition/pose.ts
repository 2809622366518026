/**
 * Head pose from 68 landmarks: a weak-perspective (scaled orthographic) fit of six of them onto a
 * generic 3-D face, the rotation read as yaw, pitch and roll in degrees. Coarse by nature (one
 * generic face for everyone, no camera model), and cheap: a 3x3 solve per face.
 *
 * Signs, as the image shows the face: `yaw` > 0 turned toward the image's right, `pitch` > 0
 * looking down, `roll` > 0 tilted counter-clockwise. A frontal face is near 0 on all three.
 */
import type { Point } from './align.js';

export interface HeadPose {
  yaw: number;
  pitch: number;
  roll: number;
}

/**
 * The generic face (arbitrary units; x to the image's right, y up, z toward the camera) at the
 * 68-point scheme's nose tip (30), chin (8), outer eye corners (36, 45) and mouth corners (48, 54).
 */
export const POSE_MODEL: ReadonlyArray<{ index: number; x: number; y: number; z: number }> = [
  { index: 30, x: 0, y: 0, z: 0 },
  { index: 8, x: 0, y: -330, z: -65 },
  { index: 36, x: -225, y: 170, z: -135 },
  { index: 45, x: 225, y: 170, z: -135 },
  { index: 48, x: -150, y: -150, z: -125 },
  { index: 54, x: 150, y: -150, z: -125 },
];

type V3 = [number, number, number];
const dot = (a: V3, b: V3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a: V3): V3 => {
  const n = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};

/** Inverse of a symmetric 3x3 matrix (row-major). */
function invert3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d), C, -(a * h - b * g), a * e - b * d].map((v) => v / det);
}

const deg = (r: number): number => Math.round(((r * 180) / Math.PI) * 10) / 10;

/** Yaw, pitch and roll (degrees) of a face from its 68 landmarks in image pixels. */
export function headPose(landmarks: Point[]): HeadPose {
  if (landmarks.length !== 68) throw new RangeError(`expected 68 landmarks, got ${landmarks.length}`);
  const n = POSE_MODEL.length;
  // Centre both point sets; image y flips to point up like the model's.
  let mx = 0, my = 0, mz = 0, px = 0, py = 0;
  for (const m of POSE_MODEL) {
    mx += m.x; my += m.y; mz += m.z;
    px += landmarks[m.index].x; py -= landmarks[m.index].y;
  }
  mx /= n; my /= n; mz /= n; px /= n; py /= n;
  const xx = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const u: V3 = [0, 0, 0], v: V3 = [0, 0, 0];
  for (const m of POSE_MODEL) {
    const X: V3 = [m.x - mx, m.y - my, m.z - mz];
    const ix = landmarks[m.index].x - px, iy = -landmarks[m.index].y - py;
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) xx[r * 3 + c] += X[r] * X[c];
      u[r] += ix * X[r];
      v[r] += iy * X[r];
    }
  }
  // Least squares: the 2x3 projection's rows are (P X^T)(X X^T)^-1.
  const inv = invert3(xx);
  const row = (p: V3): V3 => [0, 1, 2].map((c) => p[0] * inv[c] + p[1] * inv[3 + c] + p[2] * inv[6 + c]) as V3;
  // The rows of a scaled rotation: orthonormalise them, the third is their cross product.
  const r1 = unit(row(u));
  const m2 = row(v);
  const k = dot(m2, r1);
  const r2 = unit([m2[0] - k * r1[0], m2[1] - k * r1[1], m2[2] - k * r1[2]]);
  const r3 = cross(r1, r2);
  // R = Rz(roll) Ry(yaw) Rx(pitch'), with pitch' = -pitch so that looking down is positive.
  const yaw = Math.asin(Math.max(-1, Math.min(1, -r3[0])));
  const pitch = -Math.atan2(r3[1], r3[2]);
  const roll = Math.atan2(r2[0], r1[0]);
  return { yaw: deg(yaw), pitch: -deg(pitch), roll: deg(roll) };
}
