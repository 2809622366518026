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
export function createLogger(options: { level?: string; name?: string; format?: 'json' | 'pretty' } = {}): Logger {
  if (options.format === 'pretty') return pino(loggerOptions(options), prettyStream());
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
  return pino(loggerOptions(options), stream);
}

function loggerOptions(options: { level?: string; name?: string }) {
  return {
    name: options.name ?? 'facefleet',
    level: options.level ?? 'info',
    // Never log credentials, whatever a caller passes in.
    redact: {
      paths: ['apiKey', 'key', 'authorization', 'headers.authorization', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers["x-api-key"]'],
      censor: '[redacted]',
    },
  };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, shown in the line's head rather than among the key fields. */
const HEAD_FIELDS = new Set(['time', 'level', 'msg', 'name', 'pid', 'hostname']);

/**
 * One pino JSON line for people: `12:03:04.567 INFO  facefleet-worker: job done  jobId=... ms=140`,
 * in local time. A line that is not JSON is returned as it came.
 */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const t = new Date(typeof entry.time === 'number' ? entry.time : Date.now());
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
  const level = (LEVELS[Number(entry.level)] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !HEAD_FIELDS.has(k))
    .map(([k, v]) => {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      return `${k}=${text.length > 200 ? `${text.slice(0, 200)}...` : text}`;
    });
  const name = typeof entry.name === 'string' ? `${entry.name}: ` : '';
  return `${time} ${level} ${name}${String(entry.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

/** Lines for a terminal: written at once, each formatted by {@link formatLogLine}. */
function prettyStream(): { write(line: string): void } {
  return { write: (line: string) => void process.stderr.write(formatLogLine(line)) };
}

/** A logger that drops everything; for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The logger of a command or process, at the configured level. */
export function loggerFor(config: { logLevel: string; logFormat?: 'json' | 'pretty' }, name = 'facefleet'): Logger {
  return createLogger({ level: config.logLevel, name, format: config.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json') });
}
