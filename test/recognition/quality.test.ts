/**
 * The quality measures mean what they say: on bbt crops blurred in steps, sharpness falls at every
 * step while brightness holds; darkened in steps, brightness falls at every step while sharpness
 * holds (it is a ratio, blind to contrast). Pose is recovered from landmarks projected at known
 * angles. The engine (real model) measures every face it returns.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEngine, type LoadedEngine } from '../../src/recognition/engine.js';
import { headPose, POSE_MODEL } from '../../src/recognition/pose.js';
import { lowQualityReason, qualityScore, sharpnessOf } from '../../src/recognition/quality.js';
import type { DetectedFace } from '../../src/recognition/types.js';
import { dataDir } from '../helpers/images.js';

let engine: LoadedEngine;
beforeAll(async () => {
  engine = await loadEngine({ tfBackend: 'auto' });
});
afterAll(async () => {
  await engine?.close();
});

const CROPS = ['leonard/leonard1.png', 'penny/penny1.png', 'raj/raj2.png'];

async function face(image: Buffer): Promise<DetectedFace> {
  const { faces } = await engine.analyze(image);
  expect(faces).toHaveLength(1);
  return faces[0];
}

describe('quality measures on bbt crops', () => {
  it.each(CROPS)('%s: blurred in steps, sharpness falls at each step and brightness holds', async (crop) => {
    const original = await sharp(dataDir('bbt', crop)).png().toBuffer();
    const steps = [await face(original)];
    for (const sigma of [0.8, 1.4, 2.2]) steps.push(await face(await sharp(original).blur(sigma).png().toBuffer()));
    const sharpness = steps.map((f) => f.quality!.sharpness);
    for (let i = 1; i < steps.length; i++) expect(sharpness[i]).toBeLessThan(sharpness[i - 1] - 0.02);
    for (const f of steps) expect(Math.abs(f.quality!.brightness - steps[0].quality!.brightness)).toBeLessThan(0.03);
    expect(steps.at(-1)!.quality!.score).toBeLessThan(steps[0].quality!.score);
  });

  it.each(CROPS)('%s: darkened in steps, brightness falls at each step and sharpness holds', async (crop) => {
    const original = await sharp(dataDir('bbt', crop)).png().toBuffer();
    const steps = [await face(original)];
    for (const k of [0.7, 0.45, 0.25]) steps.push(await face(await sharp(original).linear(k, 0).png().toBuffer()));
    const brightness = steps.map((f) => f.quality!.brightness);
    for (let i = 1; i < steps.length; i++) expect(brightness[i]).toBeLessThan(brightness[i - 1] - 0.05);
    // In step: each is near its factor of the original's.
    [1, 0.7, 0.45, 0.25].forEach((k, i) => expect(brightness[i]).toBeCloseTo(k * brightness[0], 1));
    for (const f of steps) expect(Math.abs(f.quality!.sharpness - steps[0].quality!.sharpness)).toBeLessThan(0.04);
    const darkest = steps.at(-1)!;
    expect(lowQualityReason(darkest.quality!, darkest.pose!)).toBe('too-dark');
  });

  it('gives every face 68 landmarks, a pose and a quality with a score in 0..1', async () => {
    const { faces } = await engine.analyze(await sharp(dataDir('bbt', 'bbt1.jpg')).toBuffer());
    expect(faces.length).toBeGreaterThan(1);
    for (const f of faces) {
      expect(f.landmarks).toHaveLength(68);
      expect(f.quality!.score).toBeGreaterThanOrEqual(0);
      expect(f.quality!.score).toBeLessThanOrEqual(1);
      expect(f.quality!.score).toBeCloseTo(qualityScore(f.quality!, f.pose!), 3);
      expect(Math.abs(f.pose!.yaw)).toBeLessThan(45);
    }
  });
});

describe('pose and sharpness, exactly', () => {
  const rad = (d: number) => (d * Math.PI) / 180;
  /** The model's points turned by yaw (about y), pitch (about x, down positive) and roll (about z, counter-clockwise), projected to an image. */
  function project(yaw: number, pitch: number, roll: number) {
    const [a, b, c] = [rad(yaw), rad(pitch), rad(roll)];
    const lm = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
    for (const m of POSE_MODEL) {
      // Rx, then Ry, then Rz.
      let [x, y, z] = [m.x, m.y * Math.cos(b) - m.z * Math.sin(b), m.y * Math.sin(b) + m.z * Math.cos(b)];
      [x, z] = [x * Math.cos(a) + z * Math.sin(a), -x * Math.sin(a) + z * Math.cos(a)];
      [x, y] = [x * Math.cos(c) - y * Math.sin(c), x * Math.sin(c) + y * Math.cos(c)];
      lm[m.index] = { x: 300 + 0.4 * x, y: 300 - 0.4 * y };
    }
    return lm;
  }

  it.each([
    [0, 0, 0],
    [35, 0, 0],
    [-50, 10, 0],
    [0, 25, -12],
    [20, -15, 8],
  ])('recovers yaw %d, pitch %d, roll %d', (yaw, pitch, roll) => {
    const pose = headPose(project(yaw, pitch, roll));
    expect(pose.yaw).toBeCloseTo(yaw, 0);
    expect(pose.pitch).toBeCloseTo(pitch, 0);
    expect(pose.roll).toBeCloseTo(roll, 0);
  });

  it('calls a hard edge sharp and a flat or smooth ramp not', () => {
    const side = 40;
    const edge = Float32Array.from({ length: side * side }, (_, i) => (i % side < side / 2 ? 40 : 200));
    const ramp = Float32Array.from({ length: side * side }, (_, i) => 40 + (160 * (i % side)) / side);
    expect(sharpnessOf(edge, side)).toBeGreaterThan(0.8);
    expect(sharpnessOf(ramp, side)).toBeLessThan(0.1);
    expect(sharpnessOf(new Float32Array(side * side).fill(90), side)).toBe(0);
  });
});
