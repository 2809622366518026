import { pino, destination, type Logger } from 'pino';

export type { Logger };

/** Log lines are written once this many bytes wait (see {@link createLogger})... */
const LOG_CHUNK_BYTES = 2048;
/**
 * ...in writes of whole lines of at most this many bytes: PIPE_BUF on Linux, so the chunks of
 * `up` and its workers, which share one stderr, never interleave mid-line in a pipe.
 */
const LOG_MAX_WRITE = 4096;
/** ...or after this long, whichever comes first, ms. */
const LOG_FLUSH_MS = 250;

/**
 * The one logger factory: pino, JSON lines on stderr (stdout stays free for command output).
 * Lines about a request or a job carry `requestId` / `jobId` through `log.child(...)`.
 *
 * Lines are buffered and written in 2-4 KB chunks, or every 250 ms when fewer arrive: one write
 * per line costs a thread-pool round trip each, a real share of a request's CPU on a small
 * machine. pino flushes the buffer synchronously when the process exits (crashes included);
 * only a SIGKILL loses the last 250 ms of lines.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const stream = destination({ fd: 2, sync: false, minLength: LOG_CHUNK_BYTES, maxWrite: LOG_MAX_WRITE });
  const flusher = setInterval(() => {
    // Nothing buffered, nothing to write (sonic-boom's flush() would write an empty chunk).
    if ((stream as unknown as { _len?: number })._len === 0) return;
    // flush() throws while the stream is still opening or already closed; the next tick retries.
    try {
      stream.flush();
    } catch {
      /* not ready, or closing */
    }
  }, LOG_FLUSH_MS);
  flusher.unref();
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
    stream,
  );
}

/** A logger that drops everything; for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The logger of a command or process, at the configured level. */
export function loggerFor(config: { logLevel: string }, name = 'facefleet'): Logger {
  return createLogger({ level: config.logLevel, name });
}
