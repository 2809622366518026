/** Operator commands: jobs, dead letters and replay, API keys. */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { isJobState, JOB_STATES, type JobState } from '../jobs/types.js';
import { jobView } from '../jobs/view.js';
import { listDeadLetters, replayJobs } from '../jobs/operations.js';
import { deleteJobData } from '../jobs/retention.js';
import { openServices } from '../services.js';
import { validateCollectionName } from '../jobs/collection-name.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../web/keys.js';
import type { Role } from '../store/ports.js';
import { addGlobalOptions, configFrom, loggerFor, parseNumber } from './options.js';

const CLI_DEFAULTS = { logLevel: 'warn' };

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

async function withServices<T>(opts: Record<string, unknown>, fn: (s: Awaited<ReturnType<typeof openServices>>) => Promise<T>): Promise<T> {
  const config = configFrom(opts, CLI_DEFAULTS);
  const services = await openServices(config, loggerFor(config));
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

function parseSince(value: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`--since must be an ISO date or time, got ${JSON.stringify(value)}`);
  return new Date(t).toISOString();
}

function parseRate(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0) throw new Error(`--rate must look like 10/s, got ${JSON.stringify(value)}`);
  return Number(m[1]);
}

export function registerOpsCommands(program: Command): void {
  const jobs = program.command('jobs').description('inspect jobs');
  addGlobalOptions(jobs.command('show').description('a job with its full history').argument('<id>').option('--json', 'JSON output')).action(async (id: string, opts) => {
    await withServices(opts, async ({ jobs: store }) => {
      const record = await store.get(id);
      if (!record) fail(`no job ${id}`);
      const view = jobView(record);
      if (opts.json) return out(JSON.stringify(view));
      out(`job ${view.id} (${view.kind}): ${view.state}, attempt ${view.attempts} of ${view.maxAttempts}`);
      out(`created ${view.createdAt}, updated ${view.updatedAt}`);
      if (view.deadLetterReason) out(`dead-lettered: ${view.deadLetterReason}`);
      if (view.error) out(`last error: ${view.error.message} (${view.error.code})`);
      out('history:');
      for (const h of view.history) {
        out(`  ${h.at}  ${h.from ?? '-'} -> ${h.to}  ${h.event}  attempt ${h.attempt}${h.workerId ? `  worker ${h.workerId}` : ''}${h.error ? `  error ${h.error.code}: ${h.error.message}` : ''}`);
      }
      if (view.result) out(`result: ${view.result.faces.length} face(s): ${view.result.faces.map((f) => f.match?.identity ?? 'unknown').join(', ')}`);
    });
  });
  addGlobalOptions(jobs.command('delete').description("delete a job: its input image, its result and its record").argument('<id>')).action(async (id: string, opts) => {
    await withServices(opts, async ({ jobs: store, blobs, queue }) => {
      const record = await store.get(id);
      if (!record) fail(`no job ${id}`);
      await deleteJobData({ jobs: store, blobs, queue }, record);
      out(`deleted ${id}`);
    });
  });
  addGlobalOptions(
    jobs
      .command('list')
      .description('jobs in a state, oldest first')
      .requiredOption('--state <state>', `one of ${JOB_STATES.join(', ')}`)
      .option('--limit <n>', 'how many (default 50)', parseNumber('--limit', { integer: true, min: 1, max: 1000 }))
      .option('--json', 'JSON lines'),
  ).action(async (opts) => {
    if (!isJobState(opts.state)) fail(`--state must be one of ${JOB_STATES.join(', ')}`);
    await withServices(opts, async ({ jobs: store }) => {
      const page = await store.listByState(opts.state as JobState, { limit: opts.limit ?? 50 });
      for (const r of page.items) {
        const v = jobView(r);
        out(opts.json ? JSON.stringify(v) : `${v.id}\t${v.state}\t${v.kind}\tattempts ${v.attempts}\tupdated ${v.updatedAt}`);
      }
      if (!opts.json) {
        const counts = await store.countByState();
        out(`(${JOB_STATES.map((s) => `${s} ${counts[s]}`).join(', ')})`);
      }
    });
  });

  const dlq = program.command('dlq').description('dead-lettered jobs: list and replay');
  addGlobalOptions(
    dlq
      .command('list')
      .description('dead-lettered jobs with their reasons')
      .option('--reason <text>', 'only reasons containing this text (case-insensitive)')
      .option('--since <iso>', 'only jobs dead-lettered since this time', parseSince)
      .option('--json', 'JSON lines'),
  ).action(async (opts) => {
    await withServices(opts, async ({ jobs: store }) => {
      let cursor: string | undefined;
      let n = 0;
      do {
        const page = await listDeadLetters(store, { reason: opts.reason, since: opts.since, cursor, limit: 200 });
        for (const d of page.items) {
          n += 1;
          out(opts.json ? JSON.stringify(d) : `${d.id}\t${d.at}\tattempts ${d.attempts}\t${d.reason}${d.lastError ? `\tlast error ${d.lastError.code}: ${d.lastError.message}` : ''}`);
        }
        cursor = page.cursor;
      } while (cursor);
      if (!opts.json) process.stderr.write(`${n} dead-lettered job${n === 1 ? '' : 's'}\n`);
    });
  });
  addGlobalOptions(
    dlq
      .command('replay')
      .description('send dead-lettered jobs back to the queue with a fresh attempt budget')
      .argument('[ids...]', 'job ids')
      .option('--all', 'every dead-lettered job')
      .option('--reason <text>', 'jobs whose reason contains this text')
      .option('--dry-run', 'say what would be replayed, change nothing')
      .option('--rate <n/s>', 'replays per second (default 20/s)', parseRate)
      .option('--json', 'print the report as JSON'),
  ).action(async (ids: string[], opts) => {
    const selectors = [ids.length > 0, Boolean(opts.all), opts.reason !== undefined].filter(Boolean).length;
    if (selectors !== 1) fail('give job ids, or --all, or --reason TEXT (exactly one of them)');
    await withServices(opts, async ({ jobs: store, runner }) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      let bar: SingleBar | undefined;
      const report = await replayJobs(
        { jobs: store, runner },
        ids.length > 0 ? { ids } : opts.all ? { all: true } : { reason: opts.reason },
        {
          dryRun: Boolean(opts.dryRun),
          ratePerSecond: opts.rate ?? 20,
          signal: abort.signal,
          onProgress(done: number, total: number) {
            if (!process.stderr.isTTY) {
              // Not a terminal: a line every 10% (and the last) instead of a redrawn bar.
              const step = Math.max(1, Math.ceil(total / 10));
              if (done % step === 0 || done === total) process.stderr.write(`progress: ${done}/${total} jobs\n`);
              return;
            }
            if (!bar) {
              bar = new SingleBar({ stream: process.stderr, format: 'replaying [{bar}] {value}/{total} jobs | {eta_formatted} left' });
              bar.start(total, 0);
            }
            bar.setTotal(total);
            bar.update(done);
          },
        },
      );
      bar?.stop();
      if (opts.json) return out(JSON.stringify(report));
      out(`${opts.dryRun ? 'would replay' : 'replayed'} ${report.replayed} of ${report.matched} matched job${report.matched === 1 ? '' : 's'}`);
      for (const s of report.skipped) out(`  skipped ${s.id}: it is ${s.state}, not dead-lettered`);
      for (const id of report.notFound) out(`  not found: ${id}`);
      if (abort.signal.aborted) out('interrupted: run the same command again to resume');
      if (report.notFound.length > 0 || report.skipped.length > 0) process.exitCode = 1;
    });
  });

  const keys = program.command('keys').description('API keys for the web tier');
  addGlobalOptions(
    keys
      .command('create')
      .description('create a key; it is shown once')
      .requiredOption('--role <role>', 'client or operator')
      .option('--name <name>', 'a label for the key')
      .option('--collections <names>', 'comma-separated collections the key may use (default: every collection)'),
  ).action(async (opts) => {
    if (opts.role !== 'client' && opts.role !== 'operator') fail('--role must be client or operator');
    let collections: string[] | undefined;
    if (opts.collections !== undefined) {
      collections = String(opts.collections).split(',').map((c) => c.trim());
      try {
        collections.forEach(validateCollectionName);
      } catch (e) {
        fail(`--collections: ${(e as Error).message}`);
      }
    }
    await withServices(opts, async ({ keys: store }) => {
      const { id, key } = await createApiKey(store, { role: opts.role as Role, name: opts.name, ...(collections ? { collections } : {}) });
      out(key);
      process.stderr.write(`created ${opts.role} key ${id}${opts.name ? ` (${opts.name})` : ''}. It is shown once: store it now.\n`);
    });
  });
  addGlobalOptions(keys.command('list').description('keys (never their secrets)').option('--json', 'JSON output')).action(async (opts) => {
    await withServices(opts, async ({ keys: store }) => {
      const list = await listApiKeys(store);
      if (opts.json) return out(JSON.stringify(list));
      if (list.length === 0) out('no keys; create one with: facefleet keys create --role operator');
      for (const k of list) out(`${k.id}\t${k.role}\t${k.name ?? ''}\t${k.collections ? `collections ${k.collections.join(',')}` : 'all collections'}\tcreated ${k.createdAt}${k.revokedAt ? `\trevoked ${k.revokedAt}` : ''}`);
    });
  });
  addGlobalOptions(keys.command('revoke').description('revoke a key').argument('<id>')).action(async (id: string, opts) => {
    await withServices(opts, async ({ keys: store }) => {
      if (!(await revokeApiKey(store, id))) fail(`no key ${id}`);
      out(`revoked ${id}`);
    });
  });
}
