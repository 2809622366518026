/**
 * LFW View 2: finding the data set, parsing `pairs.txt` and the 10-fold threshold protocol.
 *
 * LFW is not part of the repository (it is 162 MB and for research use). The benchmarks find it,
 * in this order: `--lfw DIR`, the `FACEFLEET_LFW_DIR` environment variable, then
 * `../shared/data/lfw` beside the repository when that folder exists.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface LfwPair {
  a: string;
  b: string;
  same: boolean;
}

/** The environment variable naming the LFW folder. */
export const LFW_ENV = 'FACEFLEET_LFW_DIR';

/** How to get LFW, for the error a benchmark prints when it cannot find it. */
export const LFW_HOWTO = [
  'LFW is not bundled with facefleet (it is for research use). To run the LFW benchmarks, obtain the',
  'deep-funneled LFW images and View 2\'s pairs.txt from the LFW project, and lay them out as',
  '  DIR/pairs.txt',
  '  DIR/images/<Name>/<Name>_NNNN.jpg   (e.g. images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg)',
  `then pass --lfw DIR or set ${LFW_ENV}=DIR. See docs/benchmarks.md.`,
].join('\n');

/** LFW could not be found, or the folder given is not laid out as expected. */
export class LfwNotFoundError extends Error {
  override readonly name = 'LfwNotFoundError';
  readonly code = 'lfw-not-found';
  readonly retryable = false;
  constructor(detail: string) {
    super(`${detail}\n${LFW_HOWTO}`);
  }
}

/** `../shared/data/lfw` from the repository root: the development workspace's copy, used only when it exists. */
export function fallbackLfwDir(root = process.cwd()): string {
  return path.resolve(root, '..', 'shared', 'data', 'lfw');
}

/**
 * The LFW folder: `flag` (`--lfw DIR`), else `env[FACEFLEET_LFW_DIR]`, else the fallback when it
 * exists. Throws {@link LfwNotFoundError} when none is given and there is no fallback, or when the
 * folder chosen has no `pairs.txt` or no `images/`.
 */
export function resolveLfwDir(options: { flag?: string; env?: Record<string, string | undefined>; root?: string } = {}): string {
  const env = options.env ?? process.env;
  const root = options.root ?? process.cwd();
  const given = options.flag ? { dir: options.flag, from: '--lfw' } : env[LFW_ENV] ? { dir: env[LFW_ENV]!, from: LFW_ENV } : null;
  const fallback = fallbackLfwDir(root);
  if (!given && !existsSync(fallback)) throw new LfwNotFoundError(`LFW not found: no --lfw DIR, no ${LFW_ENV}, and no ${fallback}.`);
  const dir = path.resolve(root, given?.dir ?? fallback);
  const from = given?.from ?? 'the fallback';
  if (!existsSync(path.join(dir, 'pairs.txt'))) throw new LfwNotFoundError(`LFW folder ${dir} (from ${from}) has no pairs.txt.`);
  if (!existsSync(path.join(dir, 'images'))) throw new LfwNotFoundError(`LFW folder ${dir} (from ${from}) has no images/ folder.`);
  return dir;
}

function imagePath(dir: string, name: string, n: string): string {
  return path.join(dir, 'images', name, `${name}_${n.padStart(4, '0')}.jpg`);
}

/** The folds of `pairs.txt`: header `folds pairsPerHalf`, then per fold same pairs then different pairs. */
export async function readPairs(dir: string): Promise<LfwPair[][]> {
  const lines = (await fs.readFile(path.join(dir, 'pairs.txt'), 'utf8')).split(/\r?\n/).filter((l) => l.trim());
  const [folds, per] = lines[0].trim().split(/\s+/).map(Number);
  const out: LfwPair[][] = [];
  let i = 1;
  for (let f = 0; f < folds; f++) {
    const fold: LfwPair[] = [];
    for (let k = 0; k < 2 * per; k++, i++) {
      const p = lines[i].trim().split(/\s+/);
      if (p.length === 3) fold.push({ a: imagePath(dir, p[0], p[1]), b: imagePath(dir, p[0], p[2]), same: true });
      else if (p.length === 4) fold.push({ a: imagePath(dir, p[0], p[1]), b: imagePath(dir, p[2], p[3]), same: false });
      else throw new Error(`pairs.txt line ${i + 1}: cannot parse ${JSON.stringify(lines[i])}`);
    }
    out.push(fold);
  }
  return out;
}

/** A scored pair: `distance` null when either image had no face (always counted as an error). */
export interface Scored {
  distance: number | null;
  same: boolean;
}

export function accuracyAt(pairs: Scored[], threshold: number): number {
  let ok = 0;
  for (const p of pairs) if (p.distance !== null && p.distance <= threshold === p.same) ok++;
  return pairs.length ? ok / pairs.length : 0;
}

/** The threshold with the best accuracy on `pairs`: midpoints between sorted distances. */
export function bestThreshold(pairs: Scored[]): number {
  const d = pairs.filter((p) => p.distance !== null).map((p) => p.distance as number).sort((x, y) => x - y);
  if (d.length === 0) return 0.6;
  const cands = [d[0] - 1e-6, ...d.slice(1).map((v, i) => (v + d[i]) / 2), d[d.length - 1] + 1e-6];
  // Sweep in order, keeping counts, instead of re-scoring every candidate: O(n log n).
  const items = pairs.filter((p) => p.distance !== null).sort((x, y) => (x.distance as number) - (y.distance as number));
  let diffTotal = items.filter((p) => !p.same).length;
  let sameBelow = 0, diffBelow = 0, j = 0;
  let best = cands[0], bestOk = -1;
  for (const t of cands) {
    while (j < items.length && (items[j].distance as number) <= t) {
      if (items[j].same) sameBelow++;
      else diffBelow++;
      j++;
    }
    const ok = sameBelow + (diffTotal - diffBelow);
    if (ok > bestOk) {
      bestOk = ok;
      best = t;
    }
  }
  return best;
}

export interface FoldResult {
  fold: number;
  threshold: number;
  accuracy: number;
}

/**
 * Each selected fold is scored at the threshold that is best on the other selected folds (the
 * View 2 protocol when all ten are selected). With a single fold there is nothing to train on,
 * so it is scored at `fallbackThreshold` (0.6, dlib's radius).
 */
export function crossValidate(scored: Map<number, Scored[]>, fallbackThreshold = 0.6): FoldResult[] {
  const folds = [...scored.keys()];
  return folds.map((fold) => {
    const train = folds.filter((f) => f !== fold).flatMap((f) => scored.get(f) ?? []);
    const threshold = train.length ? bestThreshold(train) : fallbackThreshold;
    return { fold, threshold, accuracy: accuracyAt(scored.get(fold) ?? [], threshold) };
  });
}

export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / (xs.length || 1);
  const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length || 1));
  return { mean, std };
}

/** {@link resolveLfwDir} for a script's command line: on failure, print the reason and how to get LFW, and exit 2. */
export function lfwDirOrExit(flag?: string): string {
  try {
    return resolveLfwDir({ flag });
  } catch (err) {
    if (!(err instanceof LfwNotFoundError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}
