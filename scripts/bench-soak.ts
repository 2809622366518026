/**
 * Soak benchmark (not a test): mixed load against `facefleet up` while worker processes are
 * killed with SIGKILL every few seconds, then a drain and an audit of every accepted job.
 *
 *   npm run bench:soak -- --minutes M [--workers 2] [--kill-every 5] [--visibility 6] [--json]
 *
 * Load: sync lanes (`POST /v1/jobs?wait=60`), async lanes (`POST /v1/jobs`, then long-poll
 * `GET /v1/jobs/:id`) and one enrollment lane (`POST /v1/identities/:name/faces`), replaying
 * the CSE546 crops. Killer: a random worker (a direct child of the `up` process, found in
 * /proc) gets SIGKILL every `--kill-every` seconds; the local fleet replaces it, and the short
 * visibility timeout brings its job back to the queue quickly.
 *
 * Audit after draining: every job the web tier accepted (it answered with a job id) must end
 * `done` or `dead-lettered` (else it is lost), and none may have more than one SUCCEED in its
 * history (else its result was duplicated). Enrolled faces must equal finished enroll jobs.
 * With --json the last stdout line is `{submitted, done, deadLettered, lost, duplicated, p95Ms, ...}`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { Command } from 'commander';
import { loadImageSet, type BenchImage } from './lib/bench-images.js';
import { createClient, multipart, percentile, type Multipart } from './lib/http-client.js';
import { ensureBuilt, startStack, stopOnSignal } from './lib/stack.js';

const program = new Command()
  .requiredOption('--minutes <m>', 'how long the load and the killing last')
  .option('--workers <n>', 'fixed worker pool', '2')
  .option('--kill-every <s>', 'seconds between SIGKILLs of a random worker', '5')
  .option('--visibility <s>', 'queue visibility timeout of the started facefleet, seconds', '6')
  .option('--sync-lanes <n>', 'clients doing upload-and-wait', '2')
  .option('--async-lanes <n>', 'clients doing submit-then-poll', '2')
  .option('--drain-minutes <m>', 'longest wait for the queue to drain after the load stops', '5')
  .option('--log-level <level>', 'log level of the started facefleet', 'info')
  .option('--json', 'last line of stdout is a JSON summary')
  .parse();
const opts = program.opts<{
  minutes: string;
  workers: string;
  killEvery: string;
  visibility: string;
  syncLanes: string;
  asyncLanes: string;
  drainMinutes: string;
  logLevel: string;
  json?: boolean;
}>();

function say(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

interface Tracked {
  id: string;
  kind: 'sync' | 'async' | 'enroll';
  submittedAt: number;
  /** When a client saw it finished, ms since submission. */
  latencyMs?: number;
}

const images = await loadImageSet('cse546');
const forms = new Map<string, Multipart>();
function form(img: BenchImage): Multipart {
  let f = forms.get(img.file);
  if (!f) forms.set(img.file, (f = multipart('image', img.file, img.buffer, img.type)));
  return f;
}

await ensureBuilt(say);
const stack = await startStack({
  command: 'up',
  args: ['--workers', opts.workers, '--interval', '1'],
  env: { FACEFLEET_RATE_LIMIT: '0', FACEFLEET_VISIBILITY: opts.visibility, FACEFLEET_LOG_LEVEL: opts.logLevel },
});
stopOnSignal(stack);
say(`started facefleet up --workers ${opts.workers} (visibility ${opts.visibility} s) at ${stack.url}`);
const client = createClient(stack.url, 64);
const jobs = new Map<string, Tracked>();
const counts = { rejected: 0, requestErrors: 0, kills: 0, syncAnswered: 0, asyncAnswered: 0, enrollAnswered: 0 };
const errorSamples: string[] = [];
function noteError(what: string): void {
  counts.requestErrors++;
  if (errorSamples.length < 10) errorSamples.push(what.slice(0, 300));
}

/** Track the job id a response names: an accepted job, or an error (503, 422) that names the job it concerns. */
function track(kind: Tracked['kind'], status: number, body: string, submittedAt: number): Tracked | undefined {
  let parsed: { id?: string; jobId?: string; state?: string } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    /* not JSON */
  }
  const id = parsed.jobId ?? parsed.id;
  if (typeof id !== 'string') return undefined;
  const t: Tracked = { id, kind, submittedAt };
  jobs.set(id, t);
  return t;
}

async function pollUntilTerminal(t: Tracked, until: number): Promise<void> {
  while (Date.now() < until) {
    try {
      const a = await client.request('GET', `/v1/jobs/${t.id}?wait=20`);
      if (a.status === 200) {
        const job = JSON.parse(a.body) as { state: string };
        if (job.state === 'done' || job.state === 'dead-lettered') {
          t.latencyMs = Date.now() - t.submittedAt;
          return;
        }
      } else {
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      noteError(`poll ${t.id}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const minutes = Number(opts.minutes);
// Set once the workers are warm, so the whole --minutes is under load.
let loadEnds = Date.now() + minutes * 60_000;
let pollEnds = loadEnds + Number(opts.drainMinutes) * 60_000;
let cursor = 0;
const nextImage = () => images[cursor++ % images.length];

async function syncLane(): Promise<void> {
  while (Date.now() < loadEnds) {
    const f = form(nextImage());
    const t0 = Date.now();
    try {
      const a = await client.request('POST', '/v1/jobs?wait=60', { data: f.body, contentType: f.contentType }, 90_000);
      const t = track('sync', a.status, a.body, t0);
      if (a.status === 200 && t) {
        t.latencyMs = Date.now() - t0;
        counts.syncAnswered++;
      } else if (a.status === 202 && t) await pollUntilTerminal(t, pollEnds);
      else {
        if (a.status === 503) counts.rejected++;
        else noteError(`sync ${a.status} ${a.body}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      noteError(`sync: ${String(err)}`);
    }
  }
}

async function asyncLane(): Promise<void> {
  while (Date.now() < loadEnds) {
    const f = form(nextImage());
    const t0 = Date.now();
    try {
      const a = await client.request('POST', '/v1/jobs', { data: f.body, contentType: f.contentType });
      const t = track('async', a.status, a.body, t0);
      if (a.status === 202 && t) {
        counts.asyncAnswered++;
        await pollUntilTerminal(t, pollEnds);
      } else {
        if (a.status === 503) counts.rejected++;
        else noteError(`async ${a.status} ${a.body}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      noteError(`async: ${String(err)}`);
    }
  }
}

const enrolledNames = new Set<string>();
async function enrollLane(): Promise<void> {
  let n = 0;
  while (Date.now() < loadEnds) {
    const name = `soak-${n % 5}`;
    n++;
    try {
      if (!enrolledNames.has(name)) {
        const c = await client.postJson('/v1/identities', { name });
        if (c.status !== 201 && c.status !== 409) throw new Error(`create ${name}: ${c.status} ${c.body}`);
        enrolledNames.add(name);
      }
      const f = form(nextImage());
      const t0 = Date.now();
      const a = await client.request('POST', `/v1/identities/${name}/faces?wait=60`, { data: f.body, contentType: f.contentType }, 90_000);
      const t = track('enroll', a.status, a.body, t0);
      if (a.status === 201 && t) {
        t.latencyMs = Date.now() - t0;
        counts.enrollAnswered++;
      } else if (a.status === 202 && t) await pollUntilTerminal(t, pollEnds);
      else if (a.status === 503) counts.rejected++;
      // A 422 (dead-lettered enrollment, e.g. after too many killed attempts) is an answer.
      else if (a.status !== 422 || !t) noteError(`enroll ${a.status} ${a.body}`);
    } catch (err) {
      noteError(`enroll: ${String(err)}`);
    }
  }
}

async function workerPids(): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await stack.childPids()) {
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').includes('worker')) out.push(pid);
  }
  return out;
}

async function killer(): Promise<void> {
  const every = Number(opts.killEvery) * 1000;
  while (Date.now() + every < loadEnds) {
    await new Promise((r) => setTimeout(r, every));
    const pids = await workerPids();
    if (pids.length === 0) continue;
    const pid = pids[Math.floor(Math.random() * pids.length)];
    try {
      process.kill(pid, 'SIGKILL');
      counts.kills++;
    } catch {
      /* exited meanwhile */
    }
  }
}

const progress = setInterval(() => {
  const finished = [...jobs.values()].filter((j) => j.latencyMs !== undefined).length;
  say(`${jobs.size} accepted, ${finished} seen finished, ${counts.kills} workers killed, load ${os.loadavg()[0].toFixed(1)}`);
}, 15_000);

interface JobJson {
  id: string;
  kind: string;
  state: string;
  attempts: number;
  history: Array<{ to: string; event: string }>;
}

const loadavg: number[] = [os.loadavg()[0]];
try {
  // The model must be loaded before the chaos starts, or the first kills only slow the boot.
  for (let i = 0; ; i++) {
    const f = form(images[0]);
    const a = await client.request('POST', '/v1/jobs?wait=60', { data: f.body, contentType: f.contentType }, 90_000);
    if (a.status === 200) break;
    if (i > 5) throw new Error(`warm-up failed: ${a.status} ${a.body}`);
  }
  loadEnds = Date.now() + minutes * 60_000;
  pollEnds = loadEnds + Number(opts.drainMinutes) * 60_000;
  say(`warm; ${minutes} min of load with a SIGKILL every ${opts.killEvery} s`);
  const lanes = [
    ...Array.from({ length: Number(opts.syncLanes) }, syncLane),
    ...Array.from({ length: Number(opts.asyncLanes) }, asyncLane),
    enrollLane(),
    killer(),
  ];
  await Promise.all(lanes);
  loadavg.push(os.loadavg()[0]);
  say(`load stopped; draining (up to ${opts.drainMinutes} min)`);

  // Drain: every accepted job must reach a terminal state.
  const views = new Map<string, JobJson>();
  const drainEnds = Date.now() + Number(opts.drainMinutes) * 60_000;
  let pending = [...jobs.keys()];
  while (pending.length > 0) {
    const still: string[] = [];
    for (const id of pending) {
      const { status, value } = await client.getJson<JobJson>(`/v1/jobs/${id}`);
      if (status === 200) views.set(id, value);
      if (status !== 200 || (value.state !== 'done' && value.state !== 'dead-lettered')) still.push(id);
    }
    pending = still;
    if (pending.length === 0 || Date.now() > drainEnds) break;
    say(`${pending.length} jobs not finished yet`);
    await new Promise((r) => setTimeout(r, 3000));
  }
  const all = [...views.values()];
  const succeeds = (j: JobJson) => j.history.filter((h) => h.event === 'SUCCEED').length;
  const dones = (j: JobJson) => j.history.filter((h) => h.to === 'done').length;
  const duplicated = all.filter((j) => succeeds(j) > 1 || dones(j) > 1);
  const deadLettered = all.filter((j) => j.state === 'dead-lettered');
  const done = all.filter((j) => j.state === 'done');
  const retried = all.filter((j) => j.attempts > 1);
  const identities = await client.getJson<{ items: Array<{ name: string; faceCount: number }> }>('/v1/identities');
  const enrolledFaces = identities.value.items.filter((i) => i.name.startsWith('soak-')).reduce((s, i) => s + i.faceCount, 0);
  const enrollDone = done.filter((j) => j.kind === 'enroll').length;
  const latencies = [...jobs.values()].flatMap((j) => (j.latencyMs !== undefined ? [j.latencyMs] : []));
  const summary = {
    minutes,
    workers: Number(opts.workers),
    kills: counts.kills,
    submitted: jobs.size,
    done: done.length,
    deadLettered: deadLettered.length,
    lost: pending.length,
    duplicated: duplicated.length,
    retried: retried.length,
    byKind: Object.fromEntries((['sync', 'async', 'enroll'] as const).map((k) => [k, [...jobs.values()].filter((j) => j.kind === k).length])),
    enrollDone,
    enrolledFaces,
    rejected503: counts.rejected,
    requestErrors: counts.requestErrors,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    loadAverage: [Math.round(loadavg[0] * 100) / 100, Math.round(loadavg[1] * 100) / 100],
  };
  for (const e of errorSamples) say(`error sample: ${e}`);
  for (const j of deadLettered.slice(0, 3)) say(`dead-lettered ${j.id}: ${j.history.map((h) => `${h.event}->${h.to}`).join(' ')}`);
  for (const j of duplicated.slice(0, 3)) say(`duplicated ${j.id}: ${j.history.map((h) => `${h.event}->${h.to}`).join(' ')}`);
  console.log(
    `soak ${minutes} min, ${summary.workers} workers, ${counts.kills} SIGKILLs: ${summary.submitted} submitted, ${summary.done} done, ` +
      `${summary.deadLettered} dead-lettered, ${summary.lost} lost, ${summary.duplicated} duplicated, ${summary.retried} retried; ` +
      `enrolled faces ${enrolledFaces} for ${enrollDone} finished enroll jobs; latency p50 ${summary.p50Ms} ms, p95 ${summary.p95Ms} ms; ` +
      `${counts.rejected} 503s, ${counts.requestErrors} request errors; load average ${summary.loadAverage.join(' -> ')}`,
  );
  if (opts.json) console.log(JSON.stringify(summary));
  if (summary.lost > 0 || summary.duplicated > 0 || enrolledFaces !== enrollDone) process.exitCode = 1;
} finally {
  clearInterval(progress);
  client.close();
  await stack.stop();
}
