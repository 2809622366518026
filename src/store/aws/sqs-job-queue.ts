import { randomUUID } from 'node:crypto';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { JobMessage } from '../../jobs/types.js';
import type { Logger } from '../../log.js';
import type { DeadLetterMessage, JobQueue, ListOptions, Page, QueueDepth, ReceiveOptions, ReceivedMessage } from '../ports.js';
import { NotFoundError, StorePermanentError } from '../errors.js';
import { decodeCursor, encodeCursor, pageLimit } from '../cursor.js';
import { awsCall, classifyAwsError } from './errors.js';

export interface SqsJobQueueOptions {
  sqs: SQSClient;
  /** Queue names (not URLs); the URLs are looked up once, on first use. */
  queueName: string;
  deadLetterQueueName: string;
  /** Added to a long poll's wait to get its HTTP timeout. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /**
   * Most dead letters one listing or deletion looks at. SQS cannot page a queue, so a scan
   * hides what it has seen until it is done. Default 1000.
   */
  maxDeadLetterScan?: number;
  log?: Logger;
}

interface Urls {
  queue: string;
  dlq: string;
}

/** How long a listing's later pages are served from its first page's scan. */
const SNAPSHOT_TTL_MS = 60_000;
const MAX_SNAPSHOTS = 16;

/** How long a dead-letter scan hides what it has seen; released (visibility 0) when done. */
const SCAN_VISIBILITY_SECONDS = 30;

/**
 * JobQueue on SQS, with the dead-letter queue attached by a RedrivePolicy (created by
 * `provision`): SQS itself moves a message received more than `maxReceiveCount` times.
 *
 * - `receive` long-polls (`WaitTimeSeconds`) with the given visibility; `receiveCount` is
 *   SQS's `ApproximateReceiveCount`, `sentAt` its `SentTimestamp`.
 * - Receipts: SQS issues a new receipt handle per delivery. `extend` (ChangeMessageVisibility)
 *   with a handle of a deleted message, or one that is no longer in flight, fails with
 *   `MessageNotInflight`/`ReceiptHandleIsInvalid`/`InvalidParameterValue` and becomes
 *   NotFoundError, as in the local queue. SQS does not promise that an older handle of a
 *   message that is in flight again is refused, so a worker must treat the job store's lease,
 *   not a failed extend, as the proof it lost a job. `delete` with a stale handle succeeds and
 *   may leave the message in place (SQS's documented behaviour), which is what the port asks.
 * - Dead letters: SQS cannot list a queue, so `listDeadLetters` receives every dead letter
 *   (up to `maxDeadLetterScan`) with a short visibility, sorts them by `sentAt`, and releases
 *   them. Receiving a dead letter bumps its ApproximateReceiveCount, so the count shown there
 *   is "at least". Two concurrent scans each see part of the queue.
 */
export class SqsJobQueue implements JobQueue {
  private readonly sqs: SQSClient;
  private readonly options: SqsJobQueueOptions;
  private urls?: Promise<Urls>;
  private arns?: Promise<{ queue: string; dlq: string }>;
  private readonly closing = new AbortController();
  private readonly snapshots = new Map<string, { items: DeadLetterMessage[]; at: number }>();

  constructor(options: SqsJobQueueOptions) {
    this.sqs = options.sqs;
    this.options = options;
  }

  private resolveUrls(): Promise<Urls> {
    this.urls ??= (async () => {
      const lookup = (name: string) =>
        awsCall(`look up queue ${name}`, () => this.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).then((o) => {
          if (!o.QueueUrl) throw new NotFoundError(`queue ${name} has no URL`);
          return o.QueueUrl;
        });
      const [queue, dlq] = await Promise.all([lookup(this.options.queueName), lookup(this.options.deadLetterQueueName)]);
      return { queue, dlq };
    })();
    // A failed lookup (queue not provisioned yet, network) must not be cached forever.
    this.urls.catch(() => (this.urls = undefined));
    return this.urls;
  }

  async send(body: JobMessage, options: { delaySeconds?: number } = {}): Promise<string> {
    const { queue } = await this.resolveUrls();
    const delay = Math.max(0, Math.min(900, Math.floor(options.delaySeconds ?? 0)));
    const out = await awsCall(`send message for job ${body.jobId}`, () =>
      this.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: JSON.stringify(body), DelaySeconds: delay })),
    );
    if (!out.MessageId) throw new StorePermanentError('SendMessage returned no message id');
    return out.MessageId;
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const { queue } = await this.resolveUrls();
    const wait = Math.max(0, Math.min(20, Math.floor(options.waitSeconds)));
    const signal = anySignal([this.closing.signal, options.signal]);
    if (signal.aborted) return [];
    try {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queue,
          MaxNumberOfMessages: Math.max(1, Math.min(10, Math.floor(options.max))),
          WaitTimeSeconds: wait,
          VisibilityTimeout: Math.max(0, Math.floor(options.visibilitySeconds)),
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }),
        // The HTTP timeout must outlast the long poll, or every empty poll would time out.
        { abortSignal: signal, requestTimeout: wait * 1000 + (this.options.requestTimeoutMs ?? 10_000) },
      );
      return (out.Messages ?? []).flatMap((m) => {
        const parsed = toReceived(m);
        if (!parsed) this.options.log?.warn({ messageId: m.MessageId }, 'ignoring a queue message that is not a job message');
        return parsed ? [parsed] : [];
      });
    } catch (err) {
      if (signal.aborted) return [];
      throw classifyAwsError(err, 'receive messages');
    }
  }

  async extend(receipt: string, seconds: number): Promise<void> {
    const { queue } = await this.resolveUrls();
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queue, ReceiptHandle: receipt, VisibilityTimeout: Math.max(0, Math.min(43_200, Math.floor(seconds))) }),
      );
    } catch (err) {
      if (isStaleReceipt(err)) {
        throw new NotFoundError('message not found for this receipt (deleted, or delivered again since)', { cause: err });
      }
      throw classifyAwsError(err, 'extend message visibility');
    }
  }

  async delete(receipt: string): Promise<void> {
    const { queue } = await this.resolveUrls();
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: receipt }));
    } catch (err) {
      // Already deleted, or a handle SQS no longer knows: the port says deleting succeeds.
      if (isStaleReceipt(err)) return;
      throw classifyAwsError(err, 'delete message');
    }
  }

  async depth(): Promise<QueueDepth> {
    const { queue } = await this.resolveUrls();
    const a = await this.attributes(queue, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed']);
    return {
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  }

  async deadLetterDepth(): Promise<number> {
    const { dlq } = await this.resolveUrls();
    const a = await this.attributes(dlq, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']);
    // Messages a concurrent scan is holding are still dead letters.
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  /**
   * One scan serves a whole listing: later pages come from the snapshot the first page took
   * (kept in this process for {@link SNAPSHOT_TTL_MS}), so paging through n dead letters costs
   * one scan, not n/limit. A cursor from another process, or an expired one, rescans and
   * continues at the same offset. A snapshot is a point-in-time view.
   */
  async listDeadLetters(options: ListOptions = {}): Promise<Page<DeadLetterMessage>> {
    const limit = pageLimit(options.limit);
    const at = options.cursor ? decodeCursor(options.cursor, { o: 'number', s: 'string' }) : { o: 0, s: '' };
    const offset = at.o as number;
    this.dropExpiredSnapshots();
    let all = this.snapshots.get(at.s as string)?.items;
    if (!all) all = (await this.scanDeadLetters(() => false)).all.map(({ receipt: _r, ...m }) => m);
    const items = all.slice(offset, offset + limit);
    if (offset + limit >= all.length) {
      this.snapshots.delete(at.s as string);
      return { items };
    }
    const id = (at.s as string) || randomUUID();
    if (!this.snapshots.has(id)) {
      this.snapshots.set(id, { items: all, at: Date.now() });
      // A bounded cache: listings abandoned half-way must not pile up.
      while (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value!);
    }
    return { items, cursor: encodeCursor({ o: offset + limit, s: id }) };
  }

  private dropExpiredSnapshots(): void {
    const now = Date.now();
    for (const [id, snap] of this.snapshots) if (now - snap.at > SNAPSHOT_TTL_MS) this.snapshots.delete(id);
  }

  async deleteDeadLettersFor(jobId: string): Promise<number> {
    const { removed } = await this.scanDeadLetters((m) => m.body.jobId === jobId);
    return removed;
  }

  /**
   * Move every dead letter back to the main queue with SQS's own `StartMessageMoveTask`
   * (asynchronous on AWS; returns the task handle). Not in the port: AWS-only bulk redrive.
   */
  async redriveAll(options: { maxMessagesPerSecond?: number } = {}): Promise<{ taskHandle: string }> {
    const arns = await this.resolveArns();
    const out = await awsCall('start dead-letter redrive', () =>
      this.sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: arns.dlq,
          DestinationArn: arns.queue,
          ...(options.maxMessagesPerSecond ? { MaxNumberOfMessagesPerSecond: options.maxMessagesPerSecond } : {}),
        }),
      ),
    );
    return { taskHandle: out.TaskHandle ?? '' };
  }

  async ping(): Promise<void> {
    const { queue } = await this.resolveUrls();
    await this.attributes(queue, ['QueueArn']);
  }

  /** Ends a pending long poll (it resolves with []). The client belongs to the caller. */
  async close(): Promise<void> {
    this.closing.abort();
  }

  private resolveArns(): Promise<{ queue: string; dlq: string }> {
    this.arns ??= (async () => {
      const urls = await this.resolveUrls();
      const [q, d] = await Promise.all([this.attributes(urls.queue, ['QueueArn']), this.attributes(urls.dlq, ['QueueArn'])]);
      if (!q.QueueArn || !d.QueueArn) throw new NotFoundError('queue ARN not reported');
      return { queue: q.QueueArn, dlq: d.QueueArn };
    })();
    this.arns.catch(() => (this.arns = undefined));
    return this.arns;
  }

  private async attributes(url: string, names: string[]): Promise<Record<string, string>> {
    const out = await awsCall('get queue attributes', () =>
      this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names as never })),
    );
    return (out.Attributes ?? {}) as Record<string, string>;
  }

  /**
   * Receive every dead letter (hidden while the scan runs), delete those `remove` selects,
   * release the rest, and return everything seen (oldest first) and how many were deleted.
   * Stops when a receive comes back empty, or at `maxDeadLetterScan`.
   */
  private async scanDeadLetters(remove: (m: DeadLetterMessage) => boolean): Promise<{ all: Array<DeadLetterMessage & { receipt: string }>; removed: number }> {
    const { dlq } = await this.resolveUrls();
    const max = this.options.maxDeadLetterScan ?? 1000;
    const seen = new Map<string, DeadLetterMessage & { receipt: string }>();
    let removed = 0;
    const release: string[] = [];
    try {
      // Until a long poll comes back empty: SQS's message counts lag, so they cannot say when
      // the scan has seen everything.
      while (seen.size < max) {
        const out = await awsCall('receive dead letters', () =>
          this.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: dlq,
              MaxNumberOfMessages: 10,
              // A one-second long poll asks every SQS host, where a short poll samples a few.
              WaitTimeSeconds: 1,
              VisibilityTimeout: SCAN_VISIBILITY_SECONDS,
              MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'DeadLetterQueueSourceArn'],
            }),
          ),
        );
        const batch = out.Messages ?? [];
        if (batch.length === 0) break;
        const toDelete: string[] = [];
        for (const m of batch) {
          const r = toReceived(m);
          if (!r || seen.has(r.messageId)) {
            if (m.ReceiptHandle) release.push(m.ReceiptHandle);
            continue;
          }
          const dl = { messageId: r.messageId, body: r.body, receiveCount: r.receiveCount, sentAt: r.sentAt, receipt: r.receipt };
          seen.set(r.messageId, dl);
          if (remove(dl)) {
            toDelete.push(r.receipt);
            removed += 1;
          } else release.push(r.receipt);
        }
        await this.batch(dlq, toDelete, 'delete');
      }
    } finally {
      await this.batch(dlq, release, 'release').catch((err) =>
        this.options.log?.warn({ err: classifyAwsError(err, 'release dead letters').toJSON() }, 'dead letters stay hidden until their visibility runs out'),
      );
    }
    const all = [...seen.values()].sort((a, b) => a.sentAt.localeCompare(b.sentAt) || a.messageId.localeCompare(b.messageId));
    return { all, removed };
  }

  private async batch(url: string, receipts: string[], op: 'delete' | 'release'): Promise<void> {
    for (let i = 0; i < receipts.length; i += 10) {
      const entries = receipts.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle }));
      const out = await awsCall(`${op} dead letters`, () =>
        op === 'delete'
          ? this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }))
          : this.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries.map((e) => ({ ...e, VisibilityTimeout: 0 })) })),
      );
      if (out.Failed && out.Failed.length > 0) {
        this.options.log?.warn({ op, failed: out.Failed.map((f) => f.Code) }, 'some dead-letter batch entries failed');
      }
    }
  }
}

function toReceived(m: Message): ReceivedMessage | null {
  if (!m.MessageId || !m.ReceiptHandle || !m.Body) return null;
  let body: unknown;
  try {
    body = JSON.parse(m.Body);
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null || typeof (body as JobMessage).jobId !== 'string') return null;
  const sent = Number(m.Attributes?.SentTimestamp);
  return {
    messageId: m.MessageId,
    receipt: m.ReceiptHandle,
    body: { jobId: (body as JobMessage).jobId },
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
    sentAt: new Date(Number.isFinite(sent) ? sent : Date.now()).toISOString(),
  };
}

function isStaleReceipt(err: unknown): boolean {
  const e = err as { name?: string; Code?: string };
  const names = [e?.name, e?.Code];
  return names.some(
    (n) =>
      n === 'MessageNotInflight' ||
      n === 'AWS.SimpleQueueService.MessageNotInflight' ||
      n === 'ReceiptHandleIsInvalid' ||
      n === 'InvalidParameterValue' ||
      n === 'InvalidParameterValueException',
  );
}

/** An AbortSignal that fires when any of `signals` does. */
function anySignal(signals: Array<AbortSignal | undefined>): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 1 ? present[0]! : AbortSignal.any(present);
}
