/** `facefleet unknowns list|show|name|merge|forget`: a collection's unknown clusters, on the stores this process opens. */
import type { Command } from 'commander';
import { validateCollectionName } from '../jobs/collection-name.js';
import { validateIdentityName } from '../jobs/identity-name.js';
import type { Logger } from '../log.js';
import { openServices } from '../services.js';
import type { UnknownCluster } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { findCluster, forgetCluster, mergeClusters, nameCluster } from '../unknowns/operations.js';
import { CLUSTER_ID } from '../unknowns/rules.js';
import { addGlobalOptions, configFrom, loggerFor } from './options.js';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    fail((e as Error).message);
  }
}

function clusterId(raw: string): string {
  if (!CLUSTER_ID.test(raw)) fail(`${JSON.stringify(raw)} is not a cluster id (unk_ and 20 lowercase letters and digits)`);
  return raw;
}

function line(c: UnknownCluster): string {
  const state = c.state === 'named' ? `named ${c.identity}` : `${c.representatives.length} representatives`;
  return `${c.id}\t${c.sightings} sightings\tfirst ${c.firstSeen}\tlast ${c.lastSeen}\t${state}`;
}

/** Without its descriptors: what `--json` prints. */
function view(c: UnknownCluster) {
  const { representatives, absorbed: _absorbed, ...rest } = c;
  return { ...rest, representatives: representatives.map(({ descriptor: _d, ...r }) => r) };
}

async function withStores<T>(opts: Record<string, unknown>, fn: (s: Awaited<ReturnType<typeof openServices>> & { log: Logger; collection: string }) => Promise<T>): Promise<T> {
  const collection = checked(() => validateCollectionName(opts.collection ?? DEFAULT_COLLECTION));
  const config = configFrom(opts, { logLevel: 'warn' });
  const log = loggerFor(config);
  const services = await openServices(config, log);
  try {
    if (!(await services.gallery.findCollection(collection))) fail(`no collection named ${JSON.stringify(collection)}`);
    return await fn({ ...services, log, collection });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'unknown-not-found' || code === 'invalid-unknown-request' || code === 'identity-missing') fail((err as Error).message);
    throw err;
  } finally {
    await services.close();
  }
}

export function registerUnknownCommands(program: Command): void {
  const unknowns = program.command('unknowns').description("a collection's unknown faces, remembered as anonymous clusters (docs/unknowns.md)");
  const withCollection = (c: Command) => addGlobalOptions(c.option('--collection <name>', 'the collection', DEFAULT_COLLECTION));
  withCollection(
    unknowns
      .command('list')
      .description('open clusters, oldest first')
      .option('--min-sightings <n>', 'only clusters seen at least this often', '0')
      .option('--json', 'JSON output'),
  ).action(async (opts) => {
    const min = Number(opts.minSightings);
    if (!Number.isInteger(min) || min < 0) fail('--min-sightings must be a whole number, 0 or more');
    await withStores(opts, async ({ gallery, collection }) => {
      const list = (await gallery.unknowns(collection).list()).filter((c) => c.state === 'open' && c.sightings >= min);
      if (opts.json) out(JSON.stringify(list.map(view)));
      else for (const c of list) out(line(c));
    });
  });
  withCollection(unknowns.command('show').description('one cluster with its recent sightings').argument('<id>').option('--json', 'JSON output')).action(async (raw: string, opts) => {
    const id = clusterId(raw);
    await withStores(opts, async ({ gallery, collection }) => {
      const found = await findCluster(gallery.unknowns(collection), id);
      if (!found) fail(`no unknown cluster ${id} in ${collection}`);
      const c = found.cluster;
      if (opts.json) return out(JSON.stringify({ ...view(c), ...(found.mergedInto ? { mergedFrom: id } : {}) }));
      if (found.mergedInto) out(`${id} was merged into ${c.id}`);
      out(line(c));
      for (const s of c.recent) out(`  ${s.at}\tjob ${s.jobId}\tbox ${Math.round(s.box.x)},${Math.round(s.box.y)} ${Math.round(s.box.width)}x${Math.round(s.box.height)}`);
    });
  });
  withCollection(
    unknowns
      .command('name')
      .description("make a cluster's faces an identity's; the cluster ends")
      .argument('<id>')
      .argument('<identity>')
      .option('--create', 'make the identity if it does not exist'),
  ).action(async (raw: string, rawIdentity: string, opts) => {
    const id = clusterId(raw);
    const identity = checked(() => validateIdentityName(rawIdentity));
    await withStores(opts, async (s) => {
      const named = await nameCluster(s, { store: s.gallery.unknowns(s.collection), gallery: s.gallery.in(s.collection) }, { id, identity, create: opts.create === true });
      out(`${named.id} is now ${identity}`);
    });
  });
  withCollection(unknowns.command('merge').description('merge clusters into the oldest of them').argument('<ids...>')).action(async (raw: string[], opts) => {
    const ids = raw.map(clusterId);
    await withStores(opts, async (s) => {
      const merged = await mergeClusters(s, s.gallery.unknowns(s.collection), ids);
      out(line(merged));
    });
  });
  withCollection(unknowns.command('forget').description('delete a cluster: descriptors, thumbnails and sightings').argument('<id>')).action(async (raw: string, opts) => {
    const id = clusterId(raw);
    await withStores(opts, async (s) => {
      await forgetCluster(s, s.gallery.unknowns(s.collection), id);
      out(`forgot ${id}`);
    });
  });
}
