/**
 * Auth flood benchmark (not a test): a real client's `POST /v1/jobs` latency with 128 fake-key
 * requests in flight against the same web process, versus the same client unloaded.
 *
 *   npm run bench:auth-flood -- [--flood 128] [--requests 60] [--fake unknown-id|known-id] [--json]
 *
 * Starts `facefleet web` (auth on, 127.0.0.1, no worker: jobs are accepted and queued) on a
 * temp data dir with one client key. `unknown-id` fakes are key-shaped with random ids (what
 * the flood sent); `known-id` fakes reuse the real key's id with random secrets, the
 * case that still costs an scrypt check and is held back by the per-address failure limit and
 * the per-process scrypt bound. The real client's key is verified once before measuring (the
 * cache holds it), as any client that has made one request. Phases: warm-up, unloaded
 * (sequential submits), then flooded: the same, 5 s after a separate attacker process
 * (`scripts/lib/flood-child.ts`) started `--flood` lanes sending fake keys nonstop.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { Command } from 'commander';
import sharp from 'sharp';
import { multipart, percentile } from './lib/http-client.js';
import { send, startWebWithKeys } from './lib/web-child.js';

const program = new Command()
  .option('--flood <n>', 'fake-key requests in flight', '128')
  .option('--requests <n>', 'measured submits per phase', '60')
  .option('--fake <kind>', 'unknown-id | known-id', 'unknown-id')
  .option('--json', 'print one JSON line at the end')
  .parse();
const opts = program.opts<{ flood: string; requests: string; fake: string; json?: boolean }>();
const flood = Number(opts.flood);
const requests = Number(opts.requests);

const jpeg = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#a08070' } }).jpeg().toBuffer();
const form = multipart('image', 'face.jpg', jpeg);
const say = (line: string) => process.stderr.write(`${line}\n`);
const web = await startWebWithKeys();
say(`web tier up at ${web.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void web.stop().finally(() => process.exit(130)));
const real = web.keys[0]!;
const realAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const headers = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': form.contentType, 'content-length': form.body.length });

async function phase(): Promise<{ ms: number[]; statuses: Record<number, number> }> {
  const ms: number[] = [];
  const statuses: Record<number, number> = {};
  for (let i = 0; i < requests; i++) {
    const r = await send(realAgent, `${web.url}/v1/jobs`, 'POST', headers(real.key), form.body);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    ms.push(r.ms);
  }
  return { ms, statuses };
}

try {
  for (let i = 0; i < 10; i++) await send(realAgent, `${web.url}/v1/jobs`, 'POST', headers(real.key), form.body);
  say('warmed up; measuring unloaded');
  const unloaded = await phase();
  say('measuring flooded');
  // The flood runs in its own process (scripts/lib/flood-child.ts), as an attacker would.
  const attacker = spawn(process.execPath, ['--import', 'tsx', 'scripts/lib/flood-child.ts', web.url, String(flood), opts.fake === 'known-id' ? real.id : '-'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let report = '';
  attacker.stdout!.on('data', (d: Buffer) => (report += d.toString('utf8')));
  const attackerDone = new Promise<void>((resolve) => attacker.once('exit', () => resolve()));
  const floodStart = performance.now();
  await new Promise((r) => setTimeout(r, 5000));
  const loaded = await phase();
  attacker.kill('SIGTERM');
  await attackerDone;
  const { sent: floodSent, statuses: floodStatuses } = JSON.parse(report.trim() || '{"sent":0,"statuses":{}}') as { sent: number; statuses: Record<number, number> };
  const floodSeconds = (performance.now() - floodStart) / 1000;
  const p = (xs: number[], q: number) => Math.round(percentile(xs, q) * 10) / 10;
  const result = {
    fake: opts.fake,
    flood,
    requests,
    unloaded: { p50: p(unloaded.ms, 50), p95: p(unloaded.ms, 95), statuses: unloaded.statuses },
    flooded: { p50: p(loaded.ms, 50), p95: p(loaded.ms, 95), statuses: loaded.statuses },
    p95Ratio: Math.round((percentile(loaded.ms, 95) / percentile(unloaded.ms, 95)) * 100) / 100,
    floodRequests: floodSent,
    floodPerSecond: Math.round(floodSent / floodSeconds),
    floodStatuses,
  };
  process.stdout.write(
    `auth flood (${opts.fake} fakes, ${flood} in flight), real client ${requests} submits per phase:\n` +
      `  unloaded  p50 ${result.unloaded.p50} ms  p95 ${result.unloaded.p95} ms  ${JSON.stringify(unloaded.statuses)}\n` +
      `  flooded   p50 ${result.flooded.p50} ms  p95 ${result.flooded.p95} ms  ${JSON.stringify(loaded.statuses)}\n` +
      `  p95 ratio ${result.p95Ratio}x; flood: ${floodSent} requests (${result.floodPerSecond}/s) ${JSON.stringify(floodStatuses)}\n`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  realAgent.destroy();
  await web.stop();
}
