/** `facefleet collections create|list|show|remove`: collections on the stores this process opens. */
import { forgetFaces } from '../jobs/forget-faces.js';
import type { Logger } from '../log.js';
import type { Command } from 'commander';
import { validateCollectionName, validateCollectionThreshold } from '../jobs/collection-name.js';
import { openServices } from '../services.js';
import type { Collection } from '../store/ports.js';
import { DEFAULT_COLLECTION } from '../store/ports.js';
import { addGlobalOptions, configFrom, loggerFor, parseNumber } from './options.js';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function checkedName(raw: string): string {
  try {
    return validateCollectionName(raw);
  } catch (e) {
    fail((e as Error).message);
  }
}

function line(c: Collection): string {
  const threshold = c.threshold !== undefined ? `threshold ${c.threshold}` : 'default threshold';
  return `${c.name}\t${c.identityCount} identities\t${c.faceCount} faces\t${threshold}\tsince ${c.createdAt}`;
}

async function withGallery<T>(opts: Record<string, unknown>, fn: (s: Awaited<ReturnType<typeof openServices>> & { log: Logger }) => Promise<T>): Promise<T> {
  const config = configFrom(opts, { logLevel: 'warn' });
  const log = loggerFor(config);
  const services = await openServices(config, log);
  try {
    return await fn({ ...services, log });
  } finally {
    await services.close();
  }
}

export function registerCollectionCommands(program: Command): void {
  const collections = program.command('collections').description('named, isolated galleries');
  addGlobalOptions(
    collections
      .command('create')
      .description('create a collection')
      .argument('<name>')
      .option('--threshold <t>', 'default distance threshold of recognition in it (0, 2]', parseNumber('--threshold', { min: 0.01, max: 2 })),
  ).action(async (raw: string, opts) => {
    const name = checkedName(raw);
    const threshold = opts.threshold === undefined ? undefined : validateCollectionThreshold(opts.threshold);
    await withGallery(opts, async ({ gallery }) => {
      if (await gallery.getCollection(name)) fail(`collection ${name} already exists`);
      out(line(await gallery.createCollection(name, threshold !== undefined ? { threshold } : {})));
    });
  });
  addGlobalOptions(collections.command('list').description('every collection with its counts').option('--json', 'JSON output')).action(async (opts) => {
    await withGallery(opts, async ({ gallery }) => {
      const list = await gallery.listCollections();
      if (opts.json) out(JSON.stringify(list));
      else for (const c of list) out(line(c));
    });
  });
  addGlobalOptions(collections.command('show').description('one collection with its counts').argument('<name>').option('--json', 'JSON output')).action(async (raw: string, opts) => {
    const name = checkedName(raw);
    await withGallery(opts, async ({ gallery }) => {
      const c = await gallery.getCollection(name);
      if (!c) fail(`no collection named ${JSON.stringify(name)}`);
      out(opts.json ? JSON.stringify(c) : line(c));
    });
  });
  addGlobalOptions(collections.command('remove').description('remove a collection and every identity and face in it').argument('<name>')).action(async (raw: string, opts) => {
    const name = checkedName(raw);
    if (name === DEFAULT_COLLECTION) fail('the default collection cannot be removed; remove its identities instead');
    await withGallery(opts, async (services) => {
      const faces = await services.gallery.in(name).listFaces().catch(() => []);
      if (!(await services.gallery.removeCollection(name))) fail(`no collection named ${JSON.stringify(name)}`);
      await forgetFaces(services, faces);
      out(`removed ${name}`);
    });
  });
}
