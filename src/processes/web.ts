/**
 * The web process (`facefleet web`): the HTTP tier and the sweeper, on their own or as one of
 * `--web-processes N` behind one port (see `src/web/cluster.ts`).
 */
import type { Config } from '../config.js';
import { loggerFor, type Logger } from '../log.js';
import type { Services } from '../services.js';
import type { RunningWeb, WebApp } from '../web/app.js';
import { onShutdown } from './signals.js';
import { startSweeper } from './sweeper.js';

/**
 * Listen with `web`, and start the sweeper when `sweeps`; log the listening line. The returned
 * `close` stops the sweeper, then the server.
 */
export async function startWebTier(
  web: WebApp,
  config: Config,
  services: Services,
  log: Logger,
  options: { sweeps?: boolean; cluster?: { index: number } } = {},
): Promise<RunningWeb> {
  const server = await web.start(config.web.host, config.web.port);
  const sweeps = options.sweeps ?? true;
  const sweeper = sweeps
    ? startSweeper(
        { jobs: services.jobs, blobs: services.blobs, queue: services.queue, runner: services.runner, gallery: services.gallery, log },
        {
          intervalSeconds: config.web.sweepIntervalSeconds,
          staleSeconds: config.web.sweepStaleSeconds,
          maxAttempts: config.queue.maxReceiveCount,
          retention: { inputRetentionSeconds: config.web.inputRetentionSeconds, jobRetentionSeconds: config.web.jobRetentionSeconds },
        },
      )
    : undefined;
  const { cluster } = options;
  log.info({ url: server.url, auth: server.auth, ...(cluster ? { webProcess: cluster.index, sweeper: sweeps } : {}) }, 'web tier listening');
  return {
    ...server,
    close() {
      sweeper?.stop();
      return server.close();
    },
  };
}

/** `facefleet web`: one web process, or the primary of `webProcesses` of them. */
export async function runWeb(config: Config, options: { webProcesses: number }): Promise<void> {
  const { webClusterMember, startWebCluster, announceListening } = await import('../web/cluster.js');
  const member = webClusterMember();
  if (options.webProcesses > 1 && !member) {
    // The primary: no stores, no HTTP; it forks the web processes and waits on them.
    const log = loggerFor(config, 'facefleet-web');
    const web = await startWebCluster({ processes: options.webProcesses, log });
    onShutdown(log, () => web.close(), 20_000);
    process.stderr.write(`facefleet web listening on ${web.url}  (${options.webProcesses} web processes)\n`);
    return;
  }
  const memberLog = loggerFor(config, member ? `facefleet-web-${member.index}` : 'facefleet-web');
  const [{ createWebApp }, { openServices }] = await Promise.all([import('../web/app.js'), import('../services.js')]);
  let server: RunningWeb;
  let services: Services;
  try {
    services = await openServices(config, memberLog);
    const web = createWebApp({ config, log: memberLog, ...services, cluster: member });
    const clustered = member && member.processes > 1 ? member : undefined;
    // One sweeper per web tier: in a cluster, process 0's.
    server = await startWebTier(web, config, services, memberLog, { sweeps: !clustered || clustered.index === 0, cluster: clustered });
  } catch (err) {
    // A forked web process that cannot start must exit (its IPC channel would keep it alive);
    // the primary then fails the whole start.
    if (member) process.disconnect?.();
    throw err;
  }
  onShutdown(
    memberLog,
    async () => {
      await server.close();
      await services.close();
    },
    15_000,
  );
  if (member) announceListening(server.url);
  else process.stderr.write(`facefleet web listening on ${server.url}\n`);
}
