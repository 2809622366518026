import { randomBytes, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
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
import { NotFoundError, StorePermanentError, StoreUnavailableError } from '../errors.js';
import { decodeCursor, encodeCursor, pageLimit } from '../cursor.js';
import { changeFeedFor, type ChangeFeed } from './change-feed.js';
import { SqliteAdapter, type SqliteLease } from './sqlite.js';

export interface SqliteJobQueueOptions {
  /** Receives after which the next receive moves the message to the dead-letter table. Default 3. */
  maxReceiveCount?: number;
  /** Epoch-ms clock for visibility and delays; tests pass a fake one. Default `Date.now`. */
  now?: () => number;
  /**
   * How often a waiting `receive` looks at the table again, ms. Sends in this process wake it
   * at once, and commits by other processes wake it through a watch on the data dir; the
   * timer covers delays and visibility timeouts running out, and filesystems that deliver no
   * watch events. Default 100 while the watch runs, 20 without it (one indexed read a tick,
   * but each wake-up of an idle process costs CPU, hence not faster).
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

interface DueRow extends MessageRow {
  seq: number;
  job_id: string;
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
  private readonly pollIntervalMs?: number;
  private readonly log?: Logger;
  private readonly feed: ChangeFeed;
  private releaseFeed: (() => void) | null = null;
  private readonly stmts;
  private readonly claim;
  /** Aborted by close() so pending long polls end. */
  private readonly closing = new AbortController();

  constructor(lease: SqliteLease, options: SqliteJobQueueOptions = {}) {
    super(lease);
    this.maxReceiveCount = options.maxReceiveCount ?? 3;
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1) {
      lease.release();
      throw new StorePermanentError(`maxReceiveCount must be a positive integer, got ${options.maxReceiveCount}`);
    }
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = options.pollIntervalMs;
    this.log = options.log;
    this.feed = changeFeedFor(lease.file);
    const db = this.db;
    this.stmts = {
      insert: db.prepare<[string, string, string, number, number]>(
        'INSERT INTO queue_messages (message_id, job_id, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)',
      ),
      anyDue: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM queue_messages WHERE visible_at <= ? LIMIT 1'),
      toDeadLetter: db.prepare<[string, string, string, number, number, number]>(
        `INSERT INTO dead_letters (message_id, job_id, body, receive_count, sent_at, dead_lettered_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      deleteBySeq: db.prepare<[number]>('DELETE FROM queue_messages WHERE seq = ?'),
      due: db.prepare<[number, number], DueRow>(
        `SELECT seq, message_id, job_id, body, sent_at, receive_count FROM queue_messages
         WHERE visible_at <= ? ORDER BY visible_at, seq LIMIT ?`,
      ),
      take: db.prepare<[number, string, number]>(
        'UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ? WHERE seq = ?',
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
      const out: ReceivedMessage[] = [];
      const taken = new Set<number>();
      // Look at no more rows than the batch needs; only when some turned out spent (and went
      // to the dead-letter table) look again, so a long backlog costs O(max) per receive.
      for (;;) {
        let deadLettered = 0;
        for (const row of this.stmts.due.all(now, max - out.length)) {
          if (taken.has(row.seq)) continue; // visibility 0 leaves a taken row due
          if (row.receive_count >= this.maxReceiveCount) {
            this.deadLetter(row, now);
            deadLettered += 1;
            continue;
          }
          const receipt = randomBytes(12).toString('base64url');
          this.stmts.take.run(now + visibilityMs, receipt, row.seq);
          taken.add(row.seq);
          out.push({
            messageId: row.message_id,
            receipt: `${row.message_id}~${receipt}`,
            body: JSON.parse(row.body) as JobMessage,
            receiveCount: row.receive_count + 1,
            sentAt: new Date(row.sent_at).toISOString(),
          });
        }
        if (deadLettered === 0 || out.length >= max) return out;
      }
    });
  }

  private deadLetter(row: DueRow, now: number): void {
    this.stmts.toDeadLetter.run(row.message_id, row.job_id, row.body, row.receive_count, row.sent_at, now);
    this.stmts.deleteBySeq.run(row.seq);
    this.log?.warn(
      { jobId: row.job_id, messageId: row.message_id, receiveCount: row.receive_count },
      'queue message moved to the dead-letter table',
    );
  }

  /** Send `body`, visible after `delaySeconds` (0..900, default 0). Returns the message id. */
  send(body: JobMessage, options: { delaySeconds?: number } = {}): Promise<string> {
    return this.run(`send job ${body.jobId}`, () => {
      const delaySeconds = clamp(options.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS);
      const messageId = this.insertMessage(body, delaySeconds);
      if (delaySeconds === 0) this.feed.notify();
      return messageId;
    });
  }

  /**
   * The row of a send, on this connection and inside the caller's transaction if one is open.
   * Not part of the port: `send` and {@link transactionalSend} use it.
   */
  insertMessage(body: JobMessage, delaySeconds: number): string {
    const now = this.now();
    const messageId = randomUUID();
    this.stmts.insert.run(messageId, body.jobId, JSON.stringify(body), now, now + delaySeconds * 1000);
    return messageId;
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
    if (waitMs > 0 && !this.releaseFeed) this.releaseFeed = this.feed.retain(this.log);
    // After a wake-up that found nothing, look again soon, a few times: the watch fires when
    // another process writes the WAL frames, which can be a moment before its commit is
    // visible to readers, and no further event follows the commit itself.
    let settle = SETTLE_MS.length;
    for (;;) {
      if (signal?.aborted || this.closing.signal.aborted) return [];
      const seen = this.feed.generation;
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
      // A change while we looked (another receiver's wake-up, a send) means look again now.
      if (this.feed.generation !== seen) continue;
      const tick = this.pollIntervalMs ?? (this.feed.watching ? 100 : 20);
      const before = this.feed.generation;
      const wait = settle < SETTLE_MS.length ? Math.min(tick, SETTLE_MS[settle]) : tick;
      await this.pause(Math.min(left, wait), signal);
      settle = this.feed.generation !== before ? 0 : Math.min(SETTLE_MS.length, settle + 1);
    }
  }

  /** Resolve after `ms`, or sooner on a change to the database, an abort, or close. */
  private pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.feed.off('change', done);
        signal?.removeEventListener('abort', done);
        this.closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.feed.on('change', done);
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

  /**
   * Sending inside a transaction of another adapter on the connection `db` (the job intake, see
   * `SqliteJobStore.intakeWith`). Not part of the port. Throws StorePermanentError when this
   * queue is on another connection.
   */
  transactionalSend(db: Database.Database): TransactionalSend {
    if (this.db !== db) throw new StorePermanentError('the job store and the queue are on different SQLite connections: they cannot share a transaction');
    return {
      insert: (body) => {
        if (this.closing.signal.aborted) throw new StoreUnavailableError('queue is closed');
        return this.insertMessage(body, 0);
      },
      committed: () => this.notifySent(),
    };
  }

  /** Wake this process's waiting receivers after a commit that sent messages. Not part of the port. */
  notifySent(): void {
    this.feed.notify();
  }

  /** Ends pending long polls (they resolve with []) and releases the connection. */
  override close(): Promise<void> {
    this.closing.abort();
    this.releaseFeed?.();
    this.releaseFeed = null;
    return super.close();
  }
}

/** What {@link SqliteJobQueue.transactionalSend} hands out: a send inside the caller's transaction, and the after-commit wake-up. */
export interface TransactionalSend {
  /** Insert the message (visible at once); run inside the caller's transaction. Returns its id. */
  insert(body: JobMessage): string;
  /** Call once the transaction committed. */
  committed(): void;
}

/** The spacing of the look-agains after a wake-up that found nothing (see `receive`). */
const SETTLE_MS = [10, 50, 250];

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
