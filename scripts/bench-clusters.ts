/**
 * Unknown-face clustering on LFW (not a test). The people of LFW with 5 or more images, each
 * image's subject face as one sighting, streamed in seeded random order through an empty
 * collection's clustering rules, the service's own functions (src/unknowns: the cluster whose
 * template is nearest within the radius, coverage-chosen representatives, the "too poor to start
 * a cluster" rule, and recluster's centroid-linkage plan).
 *
 *   npm run bench:clusters -- [--lfw DIR] [--cache DIR] [--people N] [--seed S] [--radius R]
 *                             [--margin M] [--merge-rule FLOOR,SPREAD,CAP] [--stray-rule FACES,LIMIT,MARGIN|none]
 *                             [--recluster service|N]
 *                             [--face-gap-seconds S] [--store-faces N]
 *                             [--choose] [--choose-seeds 1,2,3] [--choose-jobs N] [--choose-only] [--json]
 *
 * People are split in two halves as bench:identify splits them (seed 15): `--choose` sweeps join
 * radius, join margin, merge rule and stray rule on the tuning half (mean over the --choose-seeds stream orders) and keeps the
 * rule that clears the goal (BCubed precision 0.98, recall 0.90) by the widest margin;
 * `--choose-only` stops there. The report is always on the other half. Descriptors come from bench:identify's cache (./lib/lfw-cache.ts),
 * so no engine runs. Each figure is printed without recluster, with recluster, and for a one-shot
 * offline agglomerative clustering (average linkage cut at the join radius, and at the merge
 * rule's cap). Recluster runs as the service's workers ask for it (`--recluster service`, the
 * default, the cadence the rule was chosen with): when a face starts a cluster that the merge
 * rule would merge with another, at most one run per minute of the stream, whose faces come
 * --face-gap-seconds apart (default 1: a busy collection, the fewest runs per face), and once at
 * the end, for the nightly run; or, with `--recluster N`, after every N faces and at the end.
 *
 * msPerFace in memory is the rules alone. `--store-faces N` (default 300) also runs the first N
 * faces through the worker's own tracker on a real SQLite collection (src/unknowns/tracker.ts:
 * clusters read, joined and written, thumbnails left out since the cache holds no images), the
 * cost a job pays. JSON last line: {people, images, clusters, bcubedPrecision, bcubedRecall,
 * msPerFace} with recluster, and the rest of the figures beside them.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { seededRandom } from '../src/random.js';
import { CLUSTER_RADIUS, JOIN_MARGIN, MERGE_RULE, type MergeRule, type StrayRule } from '../src/unknowns/rules.js';
import { splitPeople, type Person } from './lib/identify-protocol.js';
import { lfwDirOrExit } from './lib/lfw.js';
import { completePeople, listLfwImages, readCache } from './lib/lfw-cache.js';
import { agglomerative, bcubed, simulate, type SimFace } from './lib/cluster-sim.js';
import { storeRun } from './lib/cluster-store-run.js';

const opts = new Command()
  .option('--lfw <dir>', 'the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--cache <dir>', 'descriptor cache folder (bench:identify\'s)', path.join(os.tmpdir(), 'facefleet-lfw-cache'))
  .option('--people <n>', 'people of the report half to use (seeded sample); default all with 5+ images')
  .option('--seed <n>', 'seed of the stream order and of the --people sample', '1')
  .option('--split-seed <n>', 'seed of the split of people into halves (bench:identify\'s)', '15')
  .option('--radius <r>', `cluster radius (default ${CLUSTER_RADIUS})`)
  .option('--margin <m>', `join margin (default ${JOIN_MARGIN})`)
  .option('--merge-rule <floor,spread,cap>', `recluster's merge rule (default ${ruleText(MERGE_RULE)})`)
  .option('--stray-rule <faces,limit,margin>', `recluster's stray rule, or none (default ${strayText(MERGE_RULE.stray)})`)
  .option('--recluster <when>', "when recluster runs: a number of faces between runs, or 'service' (as the workers ask for it)", 'service')
  .option('--face-gap-seconds <s>', "seconds between two faces of the stream, for --recluster service", '1')
  .option('--store-faces <n>', 'faces also run through the tracker on a real SQLite collection for msPerFace', '300')
  .option('--choose', 'sweep the radii on the tuning half first')
  .option('--choose-only', 'stop after --choose: print nothing of the report half')
  .option('--choose-jobs <n>', 'processes --choose spreads the grid over (one core each)', '1')
  .option('--choose-shard <i/n>', 'internal: the share of the grid a --choose-jobs child scores')
  .option('--choose-seeds <list>', 'stream seeds --choose averages over, on the tuning half', '1,2,3')
  .option('--json', 'print only the JSON line')
  .parse()
  .opts<{ lfw?: string; cache: string; people?: string; seed: string; splitSeed: string; radius?: string; margin?: string; mergeRule?: string; strayRule?: string; recluster: string; faceGapSeconds: string; storeFaces: string; choose?: boolean; chooseOnly?: boolean; chooseJobs: string; chooseShard?: string; chooseSeeds: string; json?: boolean }>();

/** A merge rule as the flag writes it: floor,spread,cap. */
function ruleText(rule: MergeRule): string {
  return `${rule.floor},${rule.spread},${rule.cap}`;
}

/** A stray rule as the flag writes it: faces,limit,margin, or none. */
function strayText(stray: StrayRule | undefined): string {
  return stray ? `${stray.faces},${stray.limit},${stray.margin}` : 'none';
}

function parseStray(text: string): StrayRule | undefined {
  if (text === 'none') return undefined;
  const parts = text.split(',');
  const [faces, limit, margin] = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 3 || !Number.isInteger(faces) || faces! < 1 || ![limit, margin].every((v) => v !== undefined && Number.isFinite(v) && v >= 0)) {
    fail(`--stray-rule wants faces,limit,margin (a whole number of faces, at least 1, and two non-negative numbers) or none; got ${JSON.stringify(text)}`);
  }
  return { faces: faces!, limit: limit!, margin: margin! };
}

function parseRule(text: string): MergeRule {
  const parts = text.split(',');
  const [floor, spread, cap] = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 3 || ![floor, spread, cap].every((v) => v !== undefined && Number.isFinite(v) && v >= 0)) {
    fail(`--merge-rule wants three non-negative numbers, floor,spread,cap; got ${JSON.stringify(text)}`);
  }
  return { floor: floor!, spread: spread!, cap: cap! };
}

/**
 * Score the grid's `size` rules in `jobs` child processes of this script (each a --choose-shard),
 * each child's BCubed scores per rule read from its JSON lines; by rule index.
 */
async function scoreInChildren(size: number, jobs: number): Promise<Array<Array<{ precision: number; recall: number }>>> {
  const scored: Array<Array<{ precision: number; recall: number }>> = new Array(size);
  const own = process.argv.slice(2).filter((a, i, all) => a !== '--choose-jobs' && all[i - 1] !== '--choose-jobs' && !a.startsWith('--choose-jobs='));
  let done = 0;
  await Promise.all(
    Array.from({ length: jobs }, (_, part) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...own, '--json', '--choose-shard', `${part}/${jobs}`], { stdio: ['ignore', 'pipe', 'inherit'] });
        createInterface({ input: child.stdout }).on('line', (line) => {
          const { index, scores } = JSON.parse(line) as { index: number; scores: Array<{ precision: number; recall: number }> };
          scored[index] = scores;
          done += 1;
          if (!opts.json) process.stderr.write(`\r  ${done} of ${size} rules scored`);
        });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`--choose-shard ${part}/${jobs} exited with ${code}`))));
      }),
    ),
  );
  if (!opts.json) process.stderr.write('\n');
  const missing = scored.findIndex((x) => x === undefined);
  if (missing >= 0 || scored.length !== size) fail(`the --choose-jobs children left rule ${missing} unscored`);
  return scored;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const say = (s: string) => {
  if (!opts.json) console.log(s);
};
const lfwRoot = lfwDirOrExit(opts.lfw);
const images = await listLfwImages(lfwRoot);
const cache = await readCache(opts.cache, 'standard');
const complete = completePeople(images, cache);
const facesOf = new Map<string, SimFace[]>();
for (const c of cache.values()) {
  if (!complete.has(c.person) || c.subject === null) continue;
  const f = c.faces[c.subject]!;
  facesOf.set(c.person, [...(facesOf.get(c.person) ?? []), { person: c.person, descriptor: f.descriptor, box: f.box, score: f.score }]);
}
// Split every person as bench:identify does, then keep those with 5+ images (with a face) in each half.
const everyone: Person[] = [...complete].sort().map((name) => ({ name, images: [] }));
const halves = splitPeople(everyone, Number(opts.splitSeed));
const fivePlus = (half: Person[]) => half.map((p) => p.name).filter((n) => (facesOf.get(n)?.length ?? 0) >= 5);

function stream(people: string[], seed: number): SimFace[] {
  const faces = people.flatMap((p) => facesOf.get(p)!);
  const rnd = seededRandom(seed);
  for (let i = faces.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [faces[i], faces[j]] = [faces[j]!, faces[i]!];
  }
  return faces;
}

const cadence: number | 'service' = opts.recluster === 'service' ? 'service' : Number(opts.recluster);
const faceGapSeconds = Number(opts.faceGapSeconds);
if (cadence !== 'service' && !(Number.isInteger(cadence) && cadence > 0)) fail(`--recluster ${opts.recluster}: want 'service' or a whole number of faces`);
if (!(faceGapSeconds > 0)) fail(`--face-gap-seconds ${opts.faceGapSeconds}: want a positive number`);
const reclusterOn = { recluster: cadence, faceGapSeconds };
const cadenceText = cadence === 'service' ? `as the service asks, a face every ${faceGapSeconds} s` : `every ${cadence} faces`;
/**
 * The grid `--choose` sweeps: join radius (to a cluster's template), join margin, the merge
 * rule's floor, spread and cap (between templates), and its stray rule (none, or faces, limit and
 * margin). It is centred on the rule chosen before the stray step existed (join 0.40, margin 0,
 * merge 0.25, 0.30, 0.48, from a grid of joins 0.34-0.44, margins 0-0.04, floors 0.15-0.25,
 * spreads 0.30-0.40 and caps 0.44 and 0.48): the stray step only adds merges, so the looser
 * spreads, which already brought precision near 0.98, are not swept again, and a tighter one is.
 */
const JOINS = [0.38, 0.4];
const MARGINS = [0];
const FLOORS = [0.25];
const SPREADS = [0.25, 0.3];
const CAPS = [0.48];
const STRAYS: Array<StrayRule | undefined> = [undefined, ...[1, 2].flatMap((faces) => [0.42, 0.45, 0.48].flatMap((limit) => [0.04, 0.07, 0.1].map((margin) => ({ faces, limit, margin }))))];
const MERGES: MergeRule[] = FLOORS.flatMap((floor) => SPREADS.flatMap((spread) => CAPS.flatMap((cap) => STRAYS.map((stray) => ({ floor, spread, cap, ...(stray ? { stray } : {}) })))));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const seed = Number(opts.seed);
const f3 = (x: number) => x.toFixed(4);
let radius = opts.radius ? Number(opts.radius) : CLUSTER_RADIUS;
/** A merge rule with the stray rule `stray` (none when undefined). */
const withStray = (m: MergeRule, stray: StrayRule | undefined): MergeRule => ({ floor: m.floor, spread: m.spread, cap: m.cap, ...(stray ? { stray } : {}) });
let mergeRule = withStray(opts.mergeRule ? parseRule(opts.mergeRule) : MERGE_RULE, opts.strayRule !== undefined ? parseStray(opts.strayRule) : MERGE_RULE.stray);
let margin = opts.margin ? Number(opts.margin) : JOIN_MARGIN;

if (opts.choose) {
  const people = fivePlus(halves.tune);
  const seeds = opts.chooseSeeds.split(',').map(Number);
  const tunes = seeds.map((s) => stream(people, s));
  say(`choosing the radii on the tuning half: ${people.length} people, ${tunes[0]!.length} faces, stream seeds ${seeds.join(', ')}`);
  // The rule that clears both goals (precision 0.98, recall 0.90) by the widest margin: the
  // smaller of its two margins is largest (ties: higher recall).
  const grid = JOINS.flatMap((r) => MARGINS.flatMap((g) => MERGES.map((m) => ({ r, g, m }))));
  const scoreOf = ({ r, g, m }: (typeof grid)[number]) => tunes.map((tune) => bcubed(simulate(tune, { radius: r, margin: g, mergeRule: m, ...reclusterOn }).labels, tune.map((f) => f.person)));
  if (opts.chooseShard) {
    // A child of --choose-jobs: its share of the grid, one JSON line per rule, nothing else.
    const [part, parts] = opts.chooseShard.split('/').map(Number) as [number, number];
    grid.forEach((rule, index) => {
      if (index % parts === part) console.log(JSON.stringify({ index, scores: scoreOf(rule) }));
    });
    process.exit(0);
  }
  const jobs = Number(opts.chooseJobs);
  if (!(Number.isInteger(jobs) && jobs >= 1)) fail(`--choose-jobs ${opts.chooseJobs}: want a whole number, at least 1`);
  const scored = jobs === 1 ? grid.map(scoreOf) : await scoreInChildren(grid.length, jobs);
  // The rule that clears both goals (precision 0.98, recall 0.90) by the widest margin: the
  // smaller of its two margins is largest (ties: higher recall). In grid order, however many jobs.
  let chosen: { r: number; g: number; m: MergeRule; recall: number; clear: number } | undefined;
  grid.forEach(({ r, g, m }, index) => {
    const scores = scored[index]!;
    const precision = mean(scores.map((b) => b.precision));
    const recall = mean(scores.map((b) => b.recall));
    say(`  join ${r.toFixed(2)} margin ${g.toFixed(2)} merge ${ruleText(m)} stray ${strayText(m.stray)}: BCubed P ${f3(precision)} R ${f3(recall)} (mean of ${seeds.length}; ${scores.map((b) => `${f3(b.precision)}/${f3(b.recall)}`).join(' ')})`);
    // Compared to 0.001, the precision the goal is stated in: closer is a tie, not a win.
    const clear = Math.round(Math.min(precision - 0.98, recall - 0.9) * 1000) / 1000;
    if (chosen === undefined || clear > chosen.clear || (clear === chosen.clear && recall > chosen.recall)) chosen = { r, g, m, recall, clear };
  });
  say(`chosen: join ${chosen!.r}, margin ${chosen!.g}, merge ${ruleText(chosen!.m)}, stray ${strayText(chosen!.m.stray)} (mean precision and recall clear 0.98 and 0.90 by the widest margin, recluster on)`);
  if (!opts.radius) radius = chosen!.r;
  if (!opts.margin) margin = chosen!.g;
  mergeRule = withStray(opts.mergeRule ? mergeRule : chosen!.m, opts.strayRule !== undefined ? mergeRule.stray : chosen!.m.stray);
  if (opts.chooseOnly) process.exit(0);
}

let report = fivePlus(halves.test).sort();
if (opts.people) {
  const rnd = seededRandom(seed + 1);
  report = report.map((p) => [rnd(), p] as const).sort((a, b) => a[0] - b[0]).slice(0, Number(opts.people)).map(([, p]) => p).sort();
}
const faces = stream(report, seed);
const truth = faces.map((f) => f.person);
say(`report half: ${report.length} people with 5+ images, ${faces.length} faces, seed ${seed}, join radius ${radius}, join margin ${margin}, merge rule ${ruleText(mergeRule)}, stray rule ${strayText(mergeRule.stray)}`);
const plain = simulate(faces, { radius, margin, recluster: 0 });
const bPlain = bcubed(plain.labels, truth);
say(`incremental, no recluster:   ${plain.clusters} clusters for ${report.length} people, BCubed P ${f3(bPlain.precision)} R ${f3(bPlain.recall)}, ${plain.msPerFace.toFixed(3)} ms/face (rules in memory)`);
const withRe = simulate(faces, { radius, margin, mergeRule, ...reclusterOn });
const bRe = bcubed(withRe.labels, truth);
say(`incremental + recluster (${cadenceText}, and at the end): ${withRe.clusters} clusters, BCubed P ${f3(bRe.precision)} R ${f3(bRe.recall)}, ${withRe.msPerFace.toFixed(3)} ms/face (recluster ran ${withRe.reclusterRuns} times, ${withRe.reclusterMs.toFixed(0)} ms in all)`);
const offlines = [...new Set([radius, mergeRule.cap])].map((cut) => {
  const run = agglomerative(faces, cut);
  const b = bcubed(run.labels, truth);
  say(`offline average-linkage at ${cut}: ${run.clusters} clusters, BCubed P ${f3(b.precision)} R ${f3(b.recall)}, ${run.ms.toFixed(0)} ms for all`);
  return { cut, clusters: run.clusters, bcubedPrecision: Number(f3(b.precision)), bcubedRecall: Number(f3(b.recall)), ms: Math.round(run.ms) };
});
const storeFaces = Math.min(Number(opts.storeFaces), faces.length);
const stored = storeFaces > 0 ? await storeRun(faces.slice(0, storeFaces), radius, mergeRule, margin) : null;
if (stored) say(`tracker on a SQLite collection, first ${storeFaces} faces: ${stored.msPerFace.toFixed(2)} ms/face, ${stored.clusters} clusters; recluster job over them ${stored.reclusterMs.toFixed(0)} ms`);
console.log(
  JSON.stringify({
    people: report.length,
    images: faces.length,
    clusters: withRe.clusters,
    bcubedPrecision: Number(f3(bRe.precision)),
    bcubedRecall: Number(f3(bRe.recall)),
    msPerFace: Number(withRe.msPerFace.toFixed(3)),
    recluster: { when: cadence, ...(cadence === 'service' ? { faceGapSeconds } : {}), runs: withRe.reclusterRuns, ms: Math.round(withRe.reclusterMs) },
    radius,
    margin,
    mergeRule,
    seed,
    noRecluster: { clusters: plain.clusters, bcubedPrecision: Number(f3(bPlain.precision)), bcubedRecall: Number(f3(bPlain.recall)), msPerFace: Number(plain.msPerFace.toFixed(3)) },
    offline: offlines,
    ...(stored ? { store: { faces: storeFaces, msPerFace: Number(stored.msPerFace.toFixed(2)), clusters: stored.clusters, reclusterMs: Math.round(stored.reclusterMs) } } : {}),
  }),
);
