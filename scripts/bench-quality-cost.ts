/**
 * What quality and pose cost per face (not a test): `assessFace` timed on every face the engine
 * finds in the committed bbt images (the crops and the five group shots).
 *
 *   npm run bench:quality-cost -- [--runs N] [--engine-backend ort|wasm]
 *
 * Each face is assessed `--runs` times (default 20) after one warm-up; the report gives the mean
 * and the largest per-face mean, by image kind, with the face sizes, beside the time of the whole
 * `analyze` per image in the same run (which includes the quality step once).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { decodeImage } from '../src/recognition/decode.js';
import { loadEngine } from '../src/recognition/engine.js';
import { assessFace } from '../src/recognition/quality.js';

const opts = new Command().option('--runs <n>', 'timed runs per face', '20').option('--engine-backend <name>', 'ort | wasm', 'ort').parse().opts<{ runs: string; engineBackend: 'ort' | 'wasm' }>();
const runs = Number(opts.runs);
const dir = path.resolve('examples', 'bbt');
const crops = fs.readdirSync(dir).filter((d) => fs.statSync(path.join(dir, d)).isDirectory()).flatMap((d) => fs.readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f)));
const groups = fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).map((f) => path.join(dir, f));
const engine = await loadEngine({ engineBackend: opts.engineBackend });
for (const [kind, files] of [['crops', crops], ['group shots', groups]] as const) {
  const perFace: number[] = [];
  const sizes: number[] = [];
  let analyzeMs = 0;
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    const img = await decodeImage(bytes);
    const t0 = performance.now();
    const { faces } = await engine.analyze(bytes);
    analyzeMs += performance.now() - t0;
    for (const face of faces) {
      assessFace(img, face.landmarks!);
      const t = performance.now();
      for (let i = 0; i < runs; i++) assessFace(img, face.landmarks!);
      perFace.push((performance.now() - t) / runs);
      sizes.push(face.quality!.size);
    }
  }
  const mean = perFace.reduce((a, b) => a + b, 0) / perFace.length;
  process.stdout.write(`${kind}: ${files.length} images, ${perFace.length} faces (size ${Math.min(...sizes).toFixed(0)}-${Math.max(...sizes).toFixed(0)} px), assessFace mean ${mean.toFixed(2)} ms, worst face ${Math.max(...perFace).toFixed(2)} ms (${runs} runs each); the whole analyze ${(analyzeMs / files.length).toFixed(0)} ms per image (${opts.engineBackend}, one run)\n`);
}
