import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../log.js';
import type { JobMessage } from '../../jobs/types.js';
import type {
  DeadLetterMessage,
  JobQueue,
  ListOptions,
  Page,
  QueueDepth,
  ReceivedMessage,
  ReceiveOptions,
} from '../ports.js';
import { NotFoundError, StorePermanentError } from '../errors.js';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

export interface SqliteJobQueueOptions {
  /** Receives after which the next receive moves the message to the dead-letter table. Default 3. */
  maxReceiveCount?: number;
  /** Epoch-ms clock for visibility and delays; tests pass a fake one. Default `Date.now`. */
  now?: () => number;
  /**
   * How often a waiting `receive` looks at the table for messages sent by other processes,
   * ms. Default 20: a sleeping receiver then costs one indexed read per tick, and a message
   * from another process waits at most one tick. Sends from this process wake it at once.
   */
  pollIntervalMs?: number;
  log?: Logger;
}

interface MessageRow {
  message_id: string;
  body: string;
  sent_at: number;
  receive_count: number;
}

interface DeadLetterRow extends MessageRow {
  seq: number;
  dead_lettered_at: number;
}

/** SQS caps: 10 messages per receive, 20 s long poll, 12 h visibility, 15 min delay. */
const MAX_BATCH = 10;
const MAX_WAIT_SECONDS = 20;
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_DELAY_SECONDS = 900;

/** Sends in this process wake receivers in this process on the same file without waiting for a poll tick. */
const wakeups = new Map<string, EventEmitter>();

function wakeupFor(file: string): EventEmitter {
  let emitter = wakeups.get(file);
  if (!emitter) {
    emitter = new EventEmitter();
    // Every waiting receive listens; a worker process may run many.
    emitter.setMaxListeners(0);
    wakeups.set(file, emitter);
  }
  return emitter;
}

/**
 * JobQueue on a SQLite table, with SQS semantics: at-least-once delivery, visibility timeouts,
 * a fresh receipt per delivery, receive counts, and redrive to a dead-letter table.
 *
 * A message row is "visible" when `visible_at <= now`. Receiving sets `visible_at` to
 * now + visibility and a new receipt in one IMMEDIATE transaction, so the write lock makes the
 * claim atomic across processes. A due message whose receive count already reached
 * `maxReceiveCount` is moved to `dead_letters` by that same transaction instead of being
 * delivered, which is when SQS's redrive policy moves it too.
 *
 * Receipts: a receipt names one delivery. `extend` with a receipt from an earlier delivery
 * (or of a deleted message) throws NotFoundError, so a worker learns it lost the message.
 * `delete` with such a receipt succeeds and does nothing, as SQS does: it must not remove a
 * message that another worker now holds.
 */
export class SqliteJobQueue extends SqliteAdapter implements JobQueue {
  private readonly maxReceiveCount: number;
  private readonly now: () => number;
  private readonly pollIntervalMs: number;
  private readonly log?: Logger;
  private readonly wake: EventEmitter;
  private readonly stmts;
  private readonly claim;
  /** Aborted by close() so pending long polls end. */
  private readonly closing = new AbortController();

  constructor(lease: SqliteLease, options: SqliteJobQueueOptions = {}) {
    super(lease);
    this.maxReceiveCount = options.maxReceiveCount ?? 3;
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1) {
      throw new StorePermanentError(`maxReceiveCount must be a positive integer, got ${options.maxReceiveCount}`);
    }
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = options.pollIntervalMs ?? 20;
    this.log = options.log;
    this.wake = wakeupFor(lease.file);
    const db = this.db;
    this.stmts = {
      insert: db.prepare<[string, string, string, number, number]>(
        'INSERT INTO queue_messages (message_id, job_id, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)',
      ),
      anyDue: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM queue_messages WHERE visible_at <= ? LIMIT 1'),
      exhaustedDue: db.prepare<[number, number], MessageRow & { seq: number; job_id: string }>(
        `SELECT seq, message_id, job_id, body, sent_at, receive_count FROM queue_messages
         WHERE visible_at <= ? AND receive_count >= ? ORDER BY seq`,
      ),
      toDeadLetter: db.prepare<[string, string, string, number, number, number]>(
        `INSERT INTO dead_letters (message_id, job_id, body, receive_count, sent_at, dead_lettered_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      deleteBySeq: db.prepare<[number]>('DELETE FROM queue_messages WHERE seq = ?'),
      due: db.prepare<[number, number], { seq: number }>(
        'SELECT seq FROM queue_messages WHERE visible_at <= ? ORDER BY visible_at, seq LIMIT ?',
      ),
      take: db.prepare<[number, string, number], MessageRow>(
        `UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ?
         WHERE seq = ? RETURNING message_id, body, sent_at, receive_count`,
      ),
      extend: db.prepare<[number, string, string]>(
        'UPDATE queue_messages SET visible_at = ? WHERE message_id = ? AND receipt = ?',
      ),
      delete: db.prepare<[string, string]>('DELETE FROM queue_messages WHERE message_id = ? AND receipt = ?'),
      depth: db.prepare<[{ now: number }], { visible: number | null; inFlight: number | null; delayed: number | null }>(
        `SELECT SUM(visible_at <= @now) AS visible,
                SUM(visible_at > @now AND receive_count > 0) AS inFlight,
                SUM(visible_at > @now AND receive_count = 0) AS delayed
         FROM queue_messages`,
      ),
      dlqFirst: db.prepare<[number], DeadLetterRow>(
        'SELECT seq, message_id, body, sent_at, receive_count, dead_lettered_at FROM dead_letters ORDER BY seq LIMIT ?',
      ),
      dlqNext: db.prepare<[number, number], DeadLetterRow>(
        `SELECT seq, message_id, body, sent_at, receive_count, dead_lettered_at FROM dead_letters
         WHERE seq > ? ORDER BY seq LIMIT ?`,
      ),
      dlqDeleteFor: db.prepare<[string]>('DELETE FROM dead_letters WHERE job_id = ?'),
      dlqCount: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM dead_letters'),
    };
    this.claim = db.transaction((now: number, max: number, visibilityMs: number): ReceivedMessage[] => {
      for (const row of this.stmts.exhaustedDue.all(now, this.maxReceiveCount)) {
        this.stmts.toDeadLetter.run(row.message_id, row.job_id, row.body, row.receive_count, row.sent_at, now);
        this.stmts.deleteBySeq.run(row.seq);
        this.log?.warn(
          { jobId: row.job_id, messageId: row.message_id, receiveCount: row.receive_count },
          'queue message moved to the dead-letter table',
        );
      }
      const out: ReceivedMessage[] = [];
      for (const { seq } of this.stmts.due.all(now, max)) {
        const receipt = randomBytes(12).toString('base64url');
        const row = this.stmts.take.get(now + visibilityMs, receipt, seq);
        if (!row) continue;
        out.push({
          messageId: row.message_id,
          receipt: `${row.message_id}~${receipt}`,
          body: JSON.parse(row.body) as JobMessage,
          receiveCount: row.receive_count,
          sentAt: new Date(row.sent_at).toISOString(),
        });
      }
      return out;
    });
  }

  /** Send `body`, visible after `delaySeconds` (0..900, default 0). Returns the message id. */
  send(body: JobMessage, options: { delaySeconds?: number } = {}): Promise<string> {
    return this.run(`send job ${body.jobId}`, () => {
      const delaySeconds = clamp(options.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS);
      const now = this.now();
      const messageId = randomUUID();
      this.stmts.insert.run(messageId, body.jobId, JSON.stringify(body), now, now + delaySeconds * 1000);
      if (delaySeconds === 0) this.wake.emit('sent');
      return messageId;
    });
  }

  /**
   * Long poll: claim up to `max` (1..10) visible messages; when none is visible, look again
   * every poll interval (or at once on a send in this process) until `waitSeconds` (0..20)
   * has passed or `signal` aborts. The wait runs on real timers; the injected clock only
   * decides visibility.
   */
  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const max = clamp(Math.floor(options.max), 1, MAX_BATCH);
    const visibilityMs = clamp(options.visibilitySeconds, 0, MAX_VISIBILITY_SECONDS) * 1000;
    const waitMs = clamp(options.waitSeconds, 0, MAX_WAIT_SECONDS) * 1000;
    const deadline = performance.now() + waitMs;
    const { signal } = options;
    for (;;) {
      if (signal?.aborted || this.closing.signal.aborted) return [];
      const got = await this.run('receive', () => {
        const now = this.now();
        // A read first: it needs no write lock, so idle receivers in many processes do not
        // queue up behind each other on the lock just to find nothing.
        if (!this.stmts.anyDue.get(now)) return [];
        return this.claim.immediate(now, max, visibilityMs);
      });
      if (got.length > 0) return got;
      const left = deadline - performance.now();
      if (left <= 0) return [];
      await this.pause(Math.min(left, this.pollIntervalMs), signal);
    }
  }

  /** Resolve after `ms`, or sooner on a send in this process, an abort, or close. */
  private pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake.off('sent', done);
        signal?.removeEventListener('abort', done);
        this.closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake.on('sent', done);
      signal?.addEventListener('abort', done, { once: true });
      this.closing.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Hide the message for `seconds` (0..43200) from now. NotFoundError for a stale or unknown receipt. */
  extend(receipt: string, seconds: number): Promise<void> {
    return this.run('extend message visibility', () => {
      const [messageId, handle] = splitReceipt(receipt);
      const visibleAt = this.now() + clamp(seconds, 0, MAX_VISIBILITY_SECONDS) * 1000;
      const { changes } = this.stmts.extend.run(visibleAt, messageId ?? '', handle ?? '');
      if (changes === 0) {
        throw new NotFoundError('message not found for this receipt (deleted, or delivered again since)', {
          details: { messageId },
        });
      }
    });
  }

  /** Acknowledge this delivery. A stale or unknown receipt is ignored. */
  delete(receipt: string): Promise<void> {
    return this.run('delete message', () => {
      const [messageId, handle] = splitReceipt(receipt);
      if (messageId && handle) this.stmts.delete.run(messageId, handle);
    });
  }

  /** visible: due now (including ones the next receive will dead-letter); inFlight: received and hidden; delayed: sent with a delay and not yet due. */
  depth(): Promise<QueueDepth> {
    return this.run('queue depth', () => {
      const row = this.stmts.depth.get({ now: this.now() });
      return { visible: row?.visible ?? 0, inFlight: row?.inFlight ?? 0, delayed: row?.delayed ?? 0 };
    });
  }

  /** Dead letters in the order they were dead-lettered. */
  listDeadLetters(options: ListOptions = {}): Promise<Page<DeadLetterMessage>> {
    return this.run('list dead letters', () => {
      const limit = pageLimit(options.limit);
      const rows = options.cursor
        ? this.stmts.dlqNext.all(decodeCursor(options.cursor, { s: 'number' }).s as number, limit + 1)
        : this.stmts.dlqFirst.all(limit + 1);
      const more = rows.length > limit;
      const pageRows = more ? rows.slice(0, limit) : rows;
      const items = pageRows.map(
        (r): DeadLetterMessage => ({
          messageId: r.message_id,
          body: JSON.parse(r.body) as JobMessage,
          receiveCount: r.receive_count,
          sentAt: new Date(r.sent_at).toISOString(),
          deadLetteredAt: new Date(r.dead_lettered_at).toISOString(),
        }),
      );
      const last = pageRows[pageRows.length - 1];
      return more && last ? { items, cursor: encodeCursor({ s: last.seq }) } : { items };
    });
  }

  deleteDeadLettersFor(jobId: string): Promise<number> {
    return this.run(`delete dead letters of job ${jobId}`, () => this.stmts.dlqDeleteFor.run(jobId).changes);
  }

  deadLetterDepth(): Promise<number> {
    return this.run('dead-letter depth', () => this.stmts.dlqCount.get()?.n ?? 0);
  }

  /** Ends pending long polls (they resolve with []) and releases the connection. */
  override close(): Promise<void> {
    this.closing.abort();
    return super.close();
  }
}

/** A receipt is `<messageId>~<delivery handle>`; the handle alone is what must match. */
function splitReceipt(receipt: string): [string | undefined, string | undefined] {
  const at = receipt.indexOf('~');
  if (at <= 0) return [undefined, undefined];
  return [receipt.slice(0, at), receipt.slice(at + 1)];
}

function clamp(value: number, lo: number, hi: number): number {
  if (!Number.isFinite(value)) return lo;
  return Math.min(hi, Math.max(lo, value));
}
