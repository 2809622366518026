import { pino, destination, type Logger } from 'pino';

export type { Logger };

/**
 * The one logger factory: pino, JSON lines on stderr (stdout stays free for command output).
 * Lines about a request or a job carry `requestId` / `jobId` through `log.child(...)`.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'facefleet',
      level: options.level ?? 'info',
      // Never log credentials, whatever a caller passes in.
      redact: {
        paths: ['apiKey', 'key', 'authorization', 'headers.authorization', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers["x-api-key"]'],
        censor: '[redacted]',
      },
    },
    destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything; for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
