/**
 * End-to-end load benchmark (not a test): replay face images against `facefleet up` over HTTP
 * and report throughput, latency percentiles, errors, and the overhead ratio (end-to-end
 * images/s over engine-only images/s with as many engine processes as workers busy).
 *
 *   npm run bench:load -- [--url U] [--requests N] [--concurrency C] [--workers W]
 *                         [--mode classic|async|sync] [--images cse546|lfw [--lfw DIR] [--lfw-images N]] [--rounds R] [--json]
 *   npm run bench:load -- --mode sync --requests 20 --gap-seconds 8   # a lone user: `up` as `npm start` runs it, one request at a time
 *
 * Without --url it starts `facefleet up --workers W` itself (temp data dir, port 0, rate
 * limit off), enrolls the CSE546 names, warms up, measures and stops everything.
 * `--workers 0` measures the web tier's async acceptance rate alone: `facefleet web` with no
 * worker at all, `POST /v1/jobs` without waiting, counting 202s.
 *
 * `--rounds R` alternates an engine-only phase and an end-to-end phase R times on one running
 * stack, and pools them (all images over all seconds, each side): the machine's drift over a
 * run then weighs on both sides of the ratio alike. Each round's ratio is printed too.
 *
 * Modes: `classic` is `POST /` (field inputFile; CSE546 answers are checked, e.g.
 * `test_000:Paul`); `sync` is `POST /v1/jobs?wait=60`; `async` is `POST /v1/jobs`, then
 * `GET /v1/jobs/:id?wait=30` until done. Latency is from sending the upload to having the
 * answer. With --json the last stdout line is one JSON object.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { Command } from 'commander';
import { loadImageSet, type BenchImage, type ImageSetName } from './lib/bench-images.js';
import { lfwDirOrExit } from './lib/lfw.js';
import { measureEngine, type EngineBaseline } from './lib/engine-baseline.js';
import { createClient, multipart, percentile, runLanes, type Client, type Multipart } from './lib/http-client.js';
import fs from 'node:fs/promises';
import { loneStages, STAGE_NAMES, summariseStages, type LoneStages } from './lib/lone-stages.js';
import { cpuSecondsOf, cpuSecondsOfGroup, ensureBuilt, startStack, stopOnSignal, type RunningStack } from './lib/stack.js';

/**
 * CPU seconds of `pid`'s main thread alone (Linux: /proc/<pid>/task/<pid>/stat), NaN when
 * unreadable. The event loop runs there, so it is what caps one web process's rate; the rest
 * of the process's CPU is libuv and libvips threads.
 */
async function mainThreadCpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const cores = Math.max(1, os.availableParallelism());
const program = new Command()
  .option('--url <url>', 'a running facefleet (default: start `facefleet up` here)')
  .option('--requests <n>', 'measured requests (images replayed in order, cycling)', '1000')
  .option('--concurrency <n>', 'requests in flight', '16')
  .option('--workers <n>', 'worker processes (0: web tier alone, async acceptance rate)', String(cores))
  .option('--mode <mode>', 'classic | async | sync', 'classic')
  .option('--images <set>', 'cse546 | lfw', 'cse546')
  .option('--lfw-images <n>', 'with --images lfw: LFW images to use', '200')
  .option('--lfw <dir>', 'with --images lfw: the LFW folder (default: $FACEFLEET_LFW_DIR, then ../shared/data/lfw when it exists)')
  .option('--warmup <n>', 'unmeasured requests first (default 4 x workers)')
  .option('--engine-images <n>', 'images per engine-only measurement', '200')
  .option('--rounds <n>', 'alternate an engine-only phase and an end-to-end phase this many times (the ratio is pooled over all)', '1')
  .option('--engine-ips <x>', 'skip the engine-only measurement and use this images/s (cite its run)')
  .option('--engine-ms <x>', 'with --engine-ips: the engine p50 ms per image')
  .option('--log-level <level>', 'log level of the started facefleet', 'info')
  .option('--tsx', 'run the started facefleet from src/ through tsx (default: the compiled CLI that `npm start` runs, rebuilt when stale)')
  .option('--cpu-prof <dir>', 'run the started facefleet process under node --cpu-prof, profiles into <dir>')
  .option('--web-processes <n>', 'with --workers 0: `facefleet web --web-processes n` (n web processes on one port)', '1')
  .option('--gap-seconds <s>', 'a lone user: start `up` with its own defaults (one warm worker), send one request at a time this many seconds apart, no warm-up, and compare each with the engine', '0')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse();
const opts = program.opts<{
  url?: string;
  requests: string;
  concurrency: string;
  workers: string;
  mode: string;
  images: string;
  lfwImages: string;
  lfw?: string;
  warmup?: string;
  engineImages: string;
  rounds: string;
  engineIps?: string;
  engineMs?: string;
  logLevel: string;
  cpuProf?: string;
  tsx?: boolean;
  webProcesses: string;
  gapSeconds: string;
  json?: boolean;
}>();
const webProcesses = Number(opts.webProcesses);
const requests = Number(opts.requests);
const gapSeconds = Number(opts.gapSeconds);
if (!(gapSeconds >= 0)) throw new Error(`--gap-seconds must be a number >= 0, got ${JSON.stringify(opts.gapSeconds)}`);
const lone = gapSeconds > 0;
// A lone user sends one request at a time, to the one warm worker `up` keeps by default.
const concurrency = lone ? 1 : Number(opts.concurrency);
const workers = lone ? 1 : Number(opts.workers);
const rounds = Number(opts.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number >= 1, got ${JSON.stringify(opts.rounds)}`);
const mode = workers === 0 ? 'accept' : opts.mode;
if (!['classic', 'async', 'sync', 'accept'].includes(mode)) throw new Error(`--mode must be classic, async or sync, got ${JSON.stringify(opts.mode)}`);
const set = opts.images as ImageSetName;

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

const lfwDir = set === 'lfw' ? lfwDirOrExit(opts.lfw) : undefined;
const images = await loadImageSet(set, { count: Number(opts.lfwImages), lfwDir });
const forms = new Map<string, Multipart>();
function form(field: string, img: BenchImage): Multipart {
  const key = `${field}/${img.file}`;
  let f = forms.get(key);
  if (!f) forms.set(key, (f = multipart(field, img.file, img.buffer, img.type)));
  return f;
}

// The engine ceiling: as many engine processes as workers can be busy at once.
const engineProcesses = Math.min(workers, concurrency);
async function engineCeiling(): Promise<EngineBaseline | undefined> {
  if (workers === 0) return undefined;
  if (opts.engineIps) {
    return { processes: engineProcesses, images: 0, seconds: 0, imagesPerSecond: Number(opts.engineIps), p50MsPerImage: Number(opts.engineMs ?? Number.NaN), meanMsPerImage: Number.NaN, cpuMsPerImage: Number.NaN, backend: 'cited' };
  }
  say(`engine only: ${engineProcesses} process(es) on ${opts.engineImages} ${set} images...`);
  const e = await measureEngine({ processes: engineProcesses, set, lfwCount: Math.min(Number(opts.engineImages), Number(opts.lfwImages)), lfwDir, passes: 1, limit: Number(opts.engineImages) });
  say(`engine only: ${e.imagesPerSecond.toFixed(2)} images/s with ${e.processes} process(es), p50 ${e.p50MsPerImage.toFixed(1)} ms/image (${e.backend})`);
  return e;
}
// With one round the engine runs before the stack starts, as it always did; with more, each
// round measures the engine (the stack's workers idle meanwhile), then the end-to-end phase.
const firstEngine = rounds === 1 ? await engineCeiling() : undefined;

let stack: RunningStack | undefined;
let url = opts.url;
if (!url) {
  const env = { FACEFLEET_RATE_LIMIT: '0', FACEFLEET_LOG_LEVEL: opts.logLevel };
  const nodeArgs = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : [];
  if (!opts.tsx) await ensureBuilt(say);
  const tsx = opts.tsx ?? false;
  stack =
    workers === 0
      ? await startStack({ command: 'web', args: webProcesses > 1 ? ['--web-processes', String(webProcesses)] : [], env, nodeArgs, tsx })
      : await startStack({ command: 'up', args: lone ? [] : ['--workers', String(workers)], env, nodeArgs, tsx });
  stopOnSignal(stack);
  url = stack.url;
  say(`started facefleet ${workers === 0 ? `web (no workers${webProcesses > 1 ? `, ${webProcesses} web processes` : ''})` : `up --workers ${workers}`} at ${url}`);
}
const client: Client = createClient(url, concurrency + 8);

interface Outcome {
  ok: boolean;
  ms: number;
  wrong?: string;
  error?: string;
  /** sync and async: the finished job's stages (see scripts/lib/lone-stages.ts). */
  stages?: LoneStages | null;
}

interface JobAnswer {
  state: string;
  history: Array<{ at: string; to: string }>;
}

async function waitDone(id: string): Promise<JobAnswer> {
  for (;;) {
    const a = await client.request('GET', `/v1/jobs/${id}?wait=30`);
    if (a.status !== 200) throw new Error(`GET job ${a.status}: ${a.body.slice(0, 200)}`);
    const job = JSON.parse(a.body) as JobAnswer;
    if (job.state === 'done' || job.state === 'dead-lettered') return job;
  }
}

async function one(img: BenchImage): Promise<Outcome> {
  const t0 = performance.now();
  const sentAt = Date.now();
  try {
    if (mode === 'classic') {
      const f = form('inputFile', img);
      const a = await client.request('POST', '/', { data: f.body, contentType: f.contentType });
      const ms = performance.now() - t0;
      if (a.status !== 200) return { ok: false, ms, error: `${a.status} ${a.body.slice(0, 200)}` };
      const expected = img.name ? `${img.file.replace(/\.[^.]+$/, '')}:${img.name}` : undefined;
      if (expected && a.body !== expected) return { ok: true, ms, wrong: `${a.body} (expected ${expected})` };
      return { ok: true, ms };
    }
    const f = form('image', img);
    if (mode === 'sync') {
      const a = await client.request('POST', '/v1/jobs?wait=60', { data: f.body, contentType: f.contentType });
      const ms = performance.now() - t0;
      if (a.status !== 200) return { ok: false, ms, error: `${a.status} ${a.body.slice(0, 200)}` };
      const job = JSON.parse(a.body) as JobAnswer;
      return job.state === 'done' ? { ok: true, ms, stages: loneStages(job.history, sentAt, Date.now()) } : { ok: false, ms, error: `job ${job.state}` };
    }
    const a = await client.request('POST', '/v1/jobs', { data: f.body, contentType: f.contentType });
    if (a.status !== 202) return { ok: false, ms: performance.now() - t0, error: `${a.status} ${a.body.slice(0, 200)}` };
    if (mode === 'accept') return { ok: true, ms: performance.now() - t0 };
    const job = await waitDone((JSON.parse(a.body) as { id: string }).id);
    const ms = performance.now() - t0;
    return job.state === 'done' ? { ok: true, ms, stages: loneStages(job.history, sentAt, Date.now()) } : { ok: false, ms, error: `job ${job.state}` };
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Enroll each CSE546 name from its distinct images; names already in the gallery (a reused --url) are left alone. */
async function enrollCse546(): Promise<void> {
  const listed = await client.getJson<{ items?: Array<{ name: string }> }>('/v1/identities');
  const present = new Set(listed.status === 200 ? (listed.value.items ?? []).map((i) => i.name) : []);
  const seen = new Set<string>();
  for (const img of images) {
    const hash = createHash('sha256').update(img.buffer).digest('hex');
    if (seen.has(hash) || !img.name || present.has(img.name)) continue;
    seen.add(hash);
    const created = await client.postJson('/v1/identities', { name: img.name });
    if (created.status !== 201 && created.status !== 409) throw new Error(`create identity ${img.name}: ${created.status} ${created.body}`);
    const f = form('image', img);
    const res = await client.request('POST', `/v1/identities/${encodeURIComponent(img.name)}/faces?wait=60`, { data: f.body, contentType: f.contentType });
    if (res.status !== 201) throw new Error(`enroll ${img.file} as ${img.name}: ${res.status} ${res.body.slice(0, 300)}`);
  }
  say(`enrolled ${seen.size} distinct CSE546 images`);
}

/** Wait until the fleet reports a worker ready for jobs: "freshly started" means after `up` says it is up. */
async function waitForWarmWorker(timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const f = await client.getJson<{ workers?: { idle: number; busy: number } | null }>('/v1/fleet');
    if (f.status === 200 && (f.value.workers?.idle ?? 0) + (f.value.workers?.busy ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('no worker reported ready within 120 s');
}

/** The lone-user run: each request alone, `gapSeconds` apart, against the engine's own time. */
async function loneUser(): Promise<void> {
  await waitForWarmWorker();
  say(`a worker is warm; ${requests} ${mode} requests, ${gapSeconds} s apart...`);
  const outcomes: Outcome[] = [];
  // CPU of `up` (web tier and controller) and of its worker over the requests, gaps included
  // (what an idle worker and web tier spend between requests counts too): load-independent,
  // unlike the times, and set against the engine's own CPU per image.
  const pid = stack?.proc.pid;
  const cpu = async () => (pid === undefined ? { web: Number.NaN, all: Number.NaN } : { web: await cpuSecondsOf(pid), all: await cpuSecondsOfGroup(pid) });
  const cpu0 = await cpu();
  for (let i = 0; i < requests; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, gapSeconds * 1000));
    const o = await one(images[i % images.length]!);
    outcomes.push(o);
    say(`request ${i + 1}: ${o.ms.toFixed(0)} ms${o.ok ? '' : ` (${o.error})`}`);
  }
  const cpu1 = await cpu();
  const webCpuMs = ((cpu1.web - cpu0.web) * 1000) / requests;
  const workerCpuMs = ((cpu1.all - cpu1.web - (cpu0.all - cpu0.web)) * 1000) / requests;
  const engine = firstEngine;
  const budget = engine ? engine.p50MsPerImage + 150 : Number.NaN;
  const ms = outcomes.map((o) => o.ms);
  const within = outcomes.filter((o) => o.ok && o.ms <= budget).length;
  const staged = outcomes.map((o) => o.stages).filter((s): s is LoneStages => !!s);
  const stages = staged.length > 0 ? summariseStages(staged) : null;
  const summary = {
    mode, images: set, requests, gapSeconds,
    msPerRequest: ms.map((x) => round(x)),
    p50Ms: round(percentile(ms, 50)), p95Ms: round(percentile(ms, 95)), maxMs: round(Math.max(...ms)),
    stages: stages ? Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, { p50: round(v.p50), p95: round(v.p95) }])) : null,
    errors: outcomes.filter((o) => !o.ok).length,
    engineP50MsPerImage: engine ? round(engine.p50MsPerImage) : null,
    webCpuMsPerRequest: round(webCpuMs),
    workerCpuMsPerRequest: round(workerCpuMs),
    engineCpuMsPerImage: engine && Number.isFinite(engine.cpuMsPerImage) ? round(engine.cpuMsPerImage) : null,
    budgetMs: engine ? round(budget) : null,
    withinBudget: within,
    loadAverage: round(os.loadavg()[0]),
  };
  console.log(`lone user, ${mode} ${set}: ${requests} requests ${gapSeconds} s apart; p50 ${summary.p50Ms} ms, p95 ${summary.p95Ms} ms, max ${summary.maxMs} ms; ` +
    `${within}/${requests} within the engine's p50 (${summary.engineP50MsPerImage} ms) + 150 ms = ${summary.budgetMs} ms`);
  console.log(`CPU per request: web ${summary.webCpuMsPerRequest} ms, worker ${summary.workerCpuMsPerRequest} ms (engine alone: ${summary.engineCpuMsPerImage} ms per image)`);
  if (stages) {
    console.log(`stages (ms, p50 / p95 over ${staged.length} requests; job history times): ` +
      STAGE_NAMES.map((k) => `${k} ${round(stages[k].p50)} / ${round(stages[k].p95)}`).join(', '));
  }
  if (opts.json) console.log(JSON.stringify(summary));
}

try {
  if (lone) {
    await loneUser();
  } else {
  // Enrolling waits 60 s per image: on a loaded machine workers can take longer than that to
  // load and warm the engine, so wait for one to report ready first.
  if (workers > 0) await waitForWarmWorker();
  if (set === 'cse546' && workers > 0) await enrollCse546();
  const warmup = Number(opts.warmup ?? 4 * Math.max(1, workers));
  await runLanes(warmup, Math.max(1, Math.min(concurrency, Math.max(1, workers) * 2)), async (i) => void (await one(images[i % images.length])));
  say(`warmed up with ${warmup} requests; measuring ${requests} ${mode} requests at concurrency ${concurrency}...`);

  interface Round {
    outcomes: Outcome[];
    seconds: number;
    engine?: EngineBaseline;
    webCpuSeconds: number;
    webMainThreadCpuSeconds: number;
    workerCpuSeconds: number;
    clientCpuSeconds: number;
    load: [number, number];
  }
  // CPU the web process (plus controller, under `up`; plus its web processes, under
  // `web --web-processes N`) and this load generator spend per request.
  const webCpu = (pid: number) => (workers === 0 ? cpuSecondsOfGroup(pid) : cpuSecondsOf(pid));
  async function measureRound(engine: EngineBaseline | undefined): Promise<Round> {
    const outcomes: Outcome[] = [];
    const load0 = os.loadavg()[0];
    const webCpu0 = stack ? await webCpu(stack.proc.pid!) : Number.NaN;
    // The event-loop thread of the web process (with --web-processes > 1: of the primary, not meaningful).
    const mainCpu0 = stack && workers === 0 && webProcesses === 1 ? await mainThreadCpuSeconds(stack.proc.pid!) : Number.NaN;
    // The worker processes (children of `up`; the fixed pool keeps the same ones throughout).
    const workerCpu = async () => (stack && workers > 0 ? (await cpuSecondsOfGroup(stack.proc.pid!)) - (await cpuSecondsOf(stack.proc.pid!)) : Number.NaN);
    const workerCpu0 = await workerCpu();
    const selfCpu0 = process.cpuUsage();
    const t0 = performance.now();
    await runLanes(requests, concurrency, async (i) => {
      outcomes.push(await one(images[i % images.length]));
    });
    const seconds = (performance.now() - t0) / 1000;
    const selfCpu = process.cpuUsage(selfCpu0);
    return {
      outcomes,
      seconds,
      engine,
      webCpuSeconds: stack ? (await webCpu(stack.proc.pid!)) - webCpu0 : Number.NaN,
      webMainThreadCpuSeconds: Number.isFinite(mainCpu0) ? (await mainThreadCpuSeconds(stack!.proc.pid!)) - mainCpu0 : Number.NaN,
      workerCpuSeconds: (await workerCpu()) - workerCpu0,
      clientCpuSeconds: (selfCpu.user + selfCpu.system) / 1e6,
      load: [load0, os.loadavg()[0]],
    };
  }

  const done: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    const engine = rounds === 1 ? firstEngine : await engineCeiling();
    if (rounds > 1) say(`round ${r + 1} of ${rounds}: measuring ${requests} ${mode} requests at concurrency ${concurrency}...`);
    const round = await measureRound(engine);
    done.push(round);
    if (rounds > 1) {
      const ips = round.outcomes.filter((o) => o.ok).length / round.seconds;
      say(`round ${r + 1}: ${ips.toFixed(2)} images/s end to end` + (engine ? `, engine only ${engine.imagesPerSecond.toFixed(2)}: ratio ${(ips / engine.imagesPerSecond).toFixed(3)}` : ''));
    }
  }
  const outcomes = done.flatMap((d) => d.outcomes);
  const seconds = done.reduce((a, d) => a + d.seconds, 0);
  const measured = requests * rounds;
  const load0 = done[0]!.load[0];
  const load1 = done[done.length - 1]!.load[1];
  const webCpuMsPerRequest = (done.reduce((a, d) => a + d.webCpuSeconds, 0) * 1000) / measured;
  const webMainThreadCpuMsPerRequest = (done.reduce((a, d) => a + d.webMainThreadCpuSeconds, 0) * 1000) / measured;
  const clientCpuMsPerRequest = (done.reduce((a, d) => a + d.clientCpuSeconds, 0) * 1000) / measured;
  const workerCpuMsPerRequest = (done.reduce((a, d) => a + d.workerCpuSeconds, 0) * 1000) / measured;
  // Pooled engine ceiling: all images over all time (each phase timed as before).
  const engines = done.map((d) => d.engine).filter((e): e is EngineBaseline => e !== undefined);
  const engine: EngineBaseline | undefined =
    engines.length === 0
      ? undefined
      : engines.length === 1 || engines.every((e) => e.backend === 'cited')
        ? engines[0]
        : {
            ...engines[0]!,
            images: engines.reduce((a, e) => a + e.images, 0),
            seconds: engines.reduce((a, e) => a + e.seconds, 0),
            imagesPerSecond: engines.reduce((a, e) => a + e.images, 0) / engines.reduce((a, e) => a + e.seconds, 0),
            p50MsPerImage: median(engines.map((e) => e.p50MsPerImage)),
            cpuMsPerImage: engines.reduce((a, e) => a + e.cpuMsPerImage * e.images, 0) / engines.reduce((a, e) => a + e.images, 0),
          };
  const roundRatios = done.map((d) => (d.engine ? d.outcomes.filter((o) => o.ok).length / d.seconds / d.engine.imagesPerSecond : Number.NaN));

  const ok = outcomes.filter((o) => o.ok);
  const latencies = ok.map((o) => o.ms);
  const errors = outcomes.filter((o) => !o.ok);
  const wrong = outcomes.filter((o) => o.wrong);
  const imagesPerSecond = ok.length / seconds;
  const engineIps = engine?.imagesPerSecond ?? null;
  const summary = {
    requests,
    concurrency,
    workers,
    webProcesses: workers === 0 ? webProcesses : null,
    mode,
    images: set,
    imagesPerSecond: round(imagesPerSecond),
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    p99Ms: round(percentile(latencies, 99)),
    errors: errors.length,
    wrongAnswers: wrong.length,
    engineImagesPerSecond: engineIps === null ? null : round(engineIps),
    engineProcesses: engine?.processes ?? 0,
    engineP50MsPerImage: engine ? round(engine.p50MsPerImage) : null,
    p50OverEngineMs: engine ? round(percentile(latencies, 50) - engine.p50MsPerImage) : null,
    overheadRatio: engineIps ? round(imagesPerSecond / engineIps, 3) : null,
    rounds,
    roundOverheadRatios: rounds > 1 && engine ? roundRatios.map((x) => round(x, 3)) : undefined,
    seconds: round(seconds),
    webCpuMsPerRequest: stack ? round(webCpuMsPerRequest) : null,
    webMainThreadCpuMsPerRequest: Number.isFinite(webMainThreadCpuMsPerRequest) ? round(webMainThreadCpuMsPerRequest) : null,
    clientCpuMsPerRequest: round(clientCpuMsPerRequest),
    workerCpuMsPerRequest: Number.isFinite(workerCpuMsPerRequest) ? round(workerCpuMsPerRequest) : null,
    engineCpuMsPerImage: engine && Number.isFinite(engine.cpuMsPerImage) ? round(engine.cpuMsPerImage) : null,
    loadAverage: [round(load0), round(load1)],
  };
  for (const e of errors.slice(0, 5)) say(`error: ${e.error}`);
  for (const w of wrong.slice(0, 5)) say(`wrong answer: ${w.wrong}`);
  console.log(
    `${mode} ${set}: ${ok.length}/${measured} ok in ${seconds.toFixed(1)} s at concurrency ${concurrency} with ${workers} worker(s): ` +
      `${imagesPerSecond.toFixed(2)} images/s; latency p50 ${summary.p50Ms} ms, p95 ${summary.p95Ms} ms, p99 ${summary.p99Ms} ms; ` +
      `${errors.length} errors, ${wrong.length} wrong answers; load average ${summary.loadAverage.join(' -> ')}`,
  );
  console.log(
    `CPU per request: web process ${summary.webCpuMsPerRequest ?? 'n/a'} ms` +
      (summary.webMainThreadCpuMsPerRequest === null ? '' : ` (its event-loop thread ${summary.webMainThreadCpuMsPerRequest} ms)`) +
      `, load generator ${summary.clientCpuMsPerRequest} ms` +
      (summary.workerCpuMsPerRequest === null ? '' : `, workers ${summary.workerCpuMsPerRequest} ms`) +
      (summary.engineCpuMsPerImage === null ? '' : ` (engine alone: ${summary.engineCpuMsPerImage} ms per image)`),
  );
  if (engine) {
    console.log(
      `engine only (${engine.processes} process(es)): ${engine.imagesPerSecond.toFixed(2)} images/s, p50 ${engine.p50MsPerImage.toFixed(1)} ms/image; ` +
        `overhead ratio ${summary.overheadRatio} (goal >= 0.9)` +
        (concurrency === 1 ? `; unloaded p50 is ${summary.p50OverEngineMs} ms over the engine's (goal <= 30)` : ''),
    );
  } else {
    console.log(`async acceptance with no workers: ${imagesPerSecond.toFixed(0)} submissions/s (goal >= 500)`);
  }
  if (opts.json) console.log(JSON.stringify(summary));
  }
} finally {
  client.close();
  await stack?.stop();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
