import type { Logger } from '../log.js';

/**
 * Graceful shutdown, then forced: the first SIGTERM/SIGINT runs `shutdown`; a second
 * signal, or `shutdown` outliving `forceAfterMs`, exits at once with code 1.
 */
export function onShutdown(log: Logger, shutdown: (signal: string) => Promise<void>, forceAfterMs: number): void {
  let shuttingDown = false;
  const handler = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    log.info({ signal }, 'shutting down (send the signal again to force)');
    const force = setTimeout(() => {
      log.error({ forceAfterMs }, 'shutdown took too long: exiting now');
      process.exit(1);
    }, forceAfterMs);
    force.unref();
    shutdown(signal).then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
