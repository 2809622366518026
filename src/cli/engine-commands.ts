/**
 * The command-line face tools: enroll, identities, recognize, verify. They run the engine
 * in this process and use the Gallery port directly (no web tier or queue involved).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { engineOptions, type Config } from '../config.js';
import { toFacefleetError } from '../errors.js';
import type { Engine, RecognitionResult, RecognizedFace } from '../recognition/types.js';
import { DEFAULT_RULE, DEFAULT_VERIFY_THRESHOLD } from '../recognition/decision.js';
import { openServices } from '../services.js';
import { addGlobalOptions, configFrom, loggerFor, parseNumber, PIPELINE_OPTION, ENGINE_BACKEND_OPTION } from './options.js';
import { forgetFaces } from '../jobs/forget-faces.js';
import { IDENTITY_NAME_RULE, validateIdentityName } from '../jobs/identity-name.js';
import { validateCollectionName } from '../jobs/collection-name.js';
import type { CollectionGallery } from '../store/ports.js';

const COLLECTION_OPTION = ['--collection <name>', 'the collection to use (default: default)'] as const;

/** The named collection's gallery; exits with a message when the name is bad or the collection is missing. */
async function collectionFrom(services: { gallery: import('../store/ports.js').Gallery }, raw: unknown): Promise<CollectionGallery | null> {
  let name: string;
  try {
    name = validateCollectionName(raw ?? 'default');
  } catch (e) {
    err(`error: --collection: ${(e as Error).message}`);
    process.exitCode = 1;
    return null;
  }
  if (!(await services.gallery.findCollection(name))) {
    err(`error: no collection named ${JSON.stringify(name)}; create it with: facefleet collections create ${name}`);
    process.exitCode = 1;
    return null;
  }
  return services.gallery.in(name);
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif']);
const CLI_DEFAULTS = { logLevel: 'warn' };

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * The recognition modules, imported on first use: they pull in TensorFlow, which costs
 * seconds, and commands such as `--help`, `keys` or `status` never need it.
 */
async function recognition() {
  const [engine, decode, matcher] = await Promise.all([
    import('../recognition/engine.js'),
    import('../recognition/decode.js'),
    import('../recognition/matcher.js'),
  ]);
  return { ...engine, ...decode, ...matcher };
}

async function withEngine<T>(config: Config, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const log = loggerFor(config, 'facefleet-cli');
  const { loadEngine } = await recognition();
  const engine = await loadEngine({ ...engineOptions(config), log });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** Expand directories (recursively, image extensions only, sorted) and keep files as given. */
export async function expandInputs(inputs: string[]): Promise<{ files: string[]; fromDirectory: boolean }> {
  const files: string[] = [];
  let fromDirectory = false;
  for (const input of inputs) {
    const stat = await fs.stat(input).catch(() => undefined);
    if (stat?.isDirectory()) {
      fromDirectory = true;
      const entries = await fs.readdir(input, { recursive: true, withFileTypes: true });
      const found = entries
        .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
        .map((e) => path.join(e.parentPath ?? input, e.name))
        .sort();
      files.push(...found);
    } else {
      files.push(input);
    }
  }
  return { files, fromDirectory };
}

function describeFace(face: RecognizedFace, i: number): string {
  const b = face.box;
  const who = face.match ? `${face.match.identity} (distance ${face.match.distance.toFixed(3)})` : `unknown${face.reason ? ` (${face.reason})` : ''}`;
  const nearest = face.candidates.map((c) => `${c.identity} ${c.distance.toFixed(3)}`).join(', ');
  return `  face ${i + 1}: ${who}  box ${Math.round(b.x)},${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)}  score ${face.score.toFixed(2)}${nearest ? `  nearest: ${nearest}` : ''}`;
}

function printResult(file: string, result: RecognitionResult, json: boolean): void {
  if (json) {
    out(JSON.stringify({ file, width: result.width, height: result.height, faces: result.faces }));
    return;
  }
  out(`${file} (${result.width}x${result.height}): ${result.faces.length === 0 ? 'no face found' : `${result.faces.length} face${result.faces.length > 1 ? 's' : ''}`}`);
  result.faces.forEach((f, i) => out(describeFace(f, i)));
}

function progressBar(total: number, enabled: boolean) {
  if (!enabled) return undefined;
  if (!process.stderr.isTTY) {
    // Not a terminal: a line every 5% instead of a redrawn bar.
    let last = -1;
    return {
      update(done: number) {
        const pct = Math.floor((done / total) * 20);
        if (pct !== last || done === total) {
          last = pct;
          err(`progress: ${done}/${total} images`);
        }
      },
      stop() {},
    };
  }
  const bar = new SingleBar({ stream: process.stderr, format: 'recognizing [{bar}] {value}/{total} images | {eta_formatted} left', hideCursor: true });
  bar.start(total, 0);
  return { update: (done: number) => bar.update(done), stop: () => bar.stop() };
}

async function enrollDirectory(dir: string, opts: Record<string, unknown>): Promise<void> {
  if (opts.url !== undefined) {
    const { enrollFromDirOver } = await import('./enroll-from-dir.js');
    const { readImageFile } = await import('../recognition/decode.js');
    const key = opts.key !== undefined ? String(opts.key) : process.env.FACEFLEET_API_KEY;
    const concurrency = opts.concurrency === undefined ? 4 : Number(opts.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      err('error: --concurrency must be an integer from 1 to 64');
      process.exitCode = 1;
      return;
    }
    const report = await enrollFromDirOver(
      dir,
      { url: String(opts.url), ...(key ? { key } : {}), collection: opts.collection === undefined ? 'default' : String(opts.collection), largest: Boolean(opts.largest), concurrency },
      { readImage: readImageFile, report: err, progress: process.stderr.isTTY === true },
    );
    out(`${report.added} added, ${report.skipped} already enrolled, ${report.refused.length} refused`);
    if (report.refused.length > 0) process.exitCode = 1;
    return;
  }
  const config = configFrom(opts, CLI_DEFAULTS);
  const { readImageFile, pickEnrollmentFace } = await recognition();
  const { enrollFromDir } = await import('./enroll-from-dir.js');
  const services = await openServices(config, loggerFor(config));
  try {
    const gallery = await collectionFrom(services, opts.collection);
    if (!gallery) return;
    const report = await withEngine(config, (engine) =>
      enrollFromDir(dir, {
        gallery,
        engine,
        pickFace: (analyzed) => pickEnrollmentFace(analyzed, { largest: Boolean(opts.largest) }),
        readImage: readImageFile,
        report: err,
        progress: process.stderr.isTTY === true,
      }),
    );
    out(`${report.added} added, ${report.skipped} already enrolled, ${report.refused.length} refused`);
    if (report.refused.length > 0) process.exitCode = 1;
  } finally {
    await services.close();
  }
}

/** `file: message`, unless the message already starts with the file's name (it is not said twice). */
export function aboutFile(file: string, message: string): string {
  return message.startsWith(file) ? message : `${file}: ${message}`;
}

/** What `recognize` says when the gallery it opened holds no face: every face would come back unknown. */
export function emptyGalleryWarning(dataDir: string): string {
  return `warning: the gallery in ${path.resolve(dataDir)} is empty, so every face is unknown; enroll with \`facefleet enroll\`, or pass --data-dir`;
}

export function registerEngineCommands(program: Command): void {
  addGlobalOptions(
    program
      .command('recognize')
      .description('find the faces in images and name them from the gallery')
      .argument('<inputs...>', 'image files or directories')
      .option('--json', 'one JSON object per image per line')
      .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION)
      .option(...COLLECTION_OPTION)
      .option('--top-k <n>', 'candidates per face (default 3)', parseNumber('--top-k', { integer: true, min: 1, max: 100 }))
      .option('--threshold <t>', `largest score of the nearest identity (distance less ${DEFAULT_RULE.marginWeight ?? 0} x its margin) that can match (default ${DEFAULT_RULE.threshold})`, parseNumber('--threshold', { min: 0.01, max: 2 }))
      .option('--margin <m>', `smallest gap to the second-nearest identity, else ambiguous (default ${DEFAULT_RULE.margin}; 0 = off)`, parseNumber('--margin', { min: 0, max: 1.99 })),
  ).action(async (inputs: string[], opts) => {
    const config = configFrom(opts, CLI_DEFAULTS);
    const { createGalleryIndex, otherPipelineWarning, recognizeFaces, readImageFile } = await recognition();
    const services = await openServices(config, loggerFor(config));
    let failed = 0;
    try {
      const gallery = await collectionFrom(services, opts.collection);
      if (!gallery) return;
      const known = await gallery.listFaces();
      const mixed = otherPipelineWarning(known, config.recognition.pipeline);
      if (mixed) err(`warning: ${mixed}`);
      if (known.length === 0) err(emptyGalleryWarning(config.dataDir));
      const index = createGalleryIndex(known);
      const { files, fromDirectory } = await expandInputs(inputs);
      if (files.length === 0) {
        err('error: no images found in the given inputs');
        process.exitCode = 1;
        return;
      }
      await withEngine(config, async (engine) => {
        const bar = progressBar(files.length, fromDirectory);
        let done = 0;
        for (const file of files) {
          try {
            const analyzed = await engine.analyze(await readImageFile(file));
            const { topK, threshold, margin } = config.recognition;
            const result = recognizeFaces(analyzed, index, { topK, threshold, margin });
            printResult(file, result, Boolean(opts.json));
          } catch (e) {
            failed += 1;
            const fe = toFacefleetError(e);
            err(`error: ${aboutFile(file, fe.message)} (${fe.code}); skipped`);
          }
          bar?.update(++done);
        }
        bar?.stop();
      });
    } finally {
      await services.close();
    }
    if (failed > 0) {
      err(`${failed} file${failed > 1 ? 's' : ''} failed`);
      process.exitCode = 1;
    }
  });

  addGlobalOptions(
    program
      .command('verify')
      .description('1:1: are the largest faces in two images the same person?')
      .argument('<a>', 'first image')
      .argument('<b>', 'second image')
      .option('--json', 'print one JSON object')
      .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION)
      .option('--threshold <t>', `largest distance that still counts as the same person (default ${DEFAULT_VERIFY_THRESHOLD}, or FACEFLEET_VERIFY_THRESHOLD)`, parseNumber('--threshold', { min: 0.01, max: 2 })),
  ).action(async (a: string, b: string, opts) => {
    // verify's --threshold is the 1:1 threshold, not the 1:N rule's.
    const { threshold: verifyThreshold, ...rest } = opts as { threshold?: number };
    const config = configFrom({ ...rest, ...(verifyThreshold === undefined ? {} : { verifyThreshold }) }, CLI_DEFAULTS);
    const threshold = config.recognition.verifyThreshold;
    const { readImageFile, verifyImages } = await recognition();
    await withEngine(config, async (engine) => {
      const [imgA, imgB] = [await readImageFile(a), await readImageFile(b)];
      const { distance, same } = await verifyImages(engine, imgA, imgB, threshold, [a, b]);
      if (opts.json) out(JSON.stringify({ a, b, distance, threshold, same }));
      else out(`${same ? 'same person' : 'different people'}: distance ${distance.toFixed(4)} (threshold ${threshold})`);
    });
  });

  addGlobalOptions(
    program
      .command('enroll')
      .description('add face images to an identity, creating it if needed')
      .argument('[name]', `identity name (${IDENTITY_NAME_RULE})`)
      .argument('[images...]', 'image files, one face each')
      .option('--from-dir <dir>', 'enroll every sub-folder of DIR as an identity, its images as faces; resumable')
      .option('--url <url>', 'with --from-dir: submit enroll jobs to the stack at URL, so its workers share the work (default: enroll in this process)')
      .option('--key <key>', 'with --url: an operator API key (env FACEFLEET_API_KEY; see facefleet keys create --role operator)')
      .option('--concurrency <n>', 'with --url: images in flight at once (default 4)')
      .option('--largest', 'when an image has several faces, enroll the largest instead of refusing it')
      .option(...COLLECTION_OPTION)
      .option(...PIPELINE_OPTION).option(...ENGINE_BACKEND_OPTION),
  ).action(async (name: string | undefined, images: string[], opts) => {
    if (opts.fromDir !== undefined) {
      await enrollDirectory(String(opts.fromDir), opts);
      return;
    }
    if (name === undefined || images.length === 0) {
      err('error: give an identity name and images, or --from-dir DIR');
      process.exitCode = 1;
      return;
    }
    validateIdentityName(name);
    const config = configFrom(opts, CLI_DEFAULTS);
    const { readImageFile, pickEnrollmentFace } = await recognition();
    const services = await openServices(config, loggerFor(config));
    let failed = 0;
    let added = 0;
    try {
      const gallery = await collectionFrom(services, opts.collection);
      if (!gallery) return;
      const { files } = await expandInputs(images);
      await withEngine(config, async (engine) => {
        for (const file of files) {
          try {
            const bytes = await readImageFile(file);
            // The same bytes for the same identity are one face: a second run adds nothing.
            const contentHash = createHash('sha256').update(bytes).digest('hex');
            if (await gallery.findFaceByHash(name, contentHash)) {
              out(`${file} is already enrolled as ${name}`);
              continue;
            }
            const analyzed = await engine.analyze(bytes);
            const face = pickEnrollmentFace(analyzed, { largest: Boolean(opts.largest) });
            await gallery.addFace(name, { descriptor: face.descriptor, source: path.basename(file), pipeline: engine.pipeline, contentHash });
            added += 1;
            out(`enrolled ${file} as ${name}`);
          } catch (e) {
            failed += 1;
            const fe = toFacefleetError(e);
            err(`error: ${aboutFile(file, fe.message)} (${fe.code}); not enrolled`);
          }
        }
      });
      const identity = await gallery.getIdentity(name);
      out(`${name}: ${added} face${added === 1 ? '' : 's'} added, ${identity?.faceCount ?? 0} in all`);
    } finally {
      await services.close();
    }
    if (failed > 0) process.exitCode = 1;
  });

  const identities = program.command('identities').description('list or remove enrolled identities');
  addGlobalOptions(identities.command('list').description('list identities and their face counts').option('--json', 'JSON output').option(...COLLECTION_OPTION)).action(async (opts) => {
    const config = configFrom(opts, CLI_DEFAULTS);
    const services = await openServices(config, loggerFor(config));
    try {
      const gallery = await collectionFrom(services, opts.collection);
      if (!gallery) return;
      const list = await gallery.listIdentities();
      if (opts.json) out(JSON.stringify(list));
      else if (list.length === 0) out('no identities enrolled yet; add one with: facefleet enroll <name> <image...>');
      else for (const i of list) out(`${i.name}\t${i.faceCount} face${i.faceCount === 1 ? '' : 's'}\tsince ${i.createdAt}`);
    } finally {
      await services.close();
    }
  });
  addGlobalOptions(identities.command('remove').description('remove an identity and all its faces').argument('<name>').option(...COLLECTION_OPTION)).action(async (name: string, opts) => {
    const config = configFrom(opts, CLI_DEFAULTS);
    const services = await openServices(config, loggerFor(config));
    try {
      const gallery = await collectionFrom(services, opts.collection);
      if (!gallery) return;
      const faces = await gallery.listFacesOf(name);
      if (await gallery.removeIdentity(name)) {
        await forgetFaces({ ...services, log: loggerFor(config) }, faces);
        out(`removed ${name}`);
      }
      else {
        err(`error: no identity named ${JSON.stringify(name)}`);
        process.exitCode = 1;
      }
    } finally {
      await services.close();
    }
  });
}
