import { afterEach, describe, expect, it } from 'vitest';
import type { JobQueue, ReceivedMessage } from '../../src/store/ports.js';
import { eventually, sleep } from '../helpers/builders.js';

export interface JobQueueHarness {
  queue: JobQueue;
  cleanup(): Promise<void>;
}

export interface JobQueueContractOptions {
  /**
   * Slack added to every wait for a visibility timeout or delay to run out, ms. Real SQS-like
   * backends count in whole seconds; default 300.
   */
  slackMs?: number;
}

/**
 * The JobQueue contract. `make` gives a fresh, empty queue (and dead-letter queue) whose
 * redrive moves a message after `maxReceiveCount` receives. Visibility timeouts here are 1-2 s
 * real time, since SQS counts in whole seconds.
 */
export function jobQueueContract(
  name: string,
  make: (options: { maxReceiveCount: number }) => Promise<JobQueueHarness>,
  options: JobQueueContractOptions = {},
): void {
  const slack = options.slackMs ?? 300;

  describe(`JobQueue contract: ${name}`, () => {
    let h: JobQueueHarness | undefined;
    const open = async (maxReceiveCount = 3) => {
      h = await make({ maxReceiveCount });
      return h.queue;
    };
    afterEach(async () => {
      await h?.queue.close();
      await h?.cleanup();
      h = undefined;
    });

    /** Receive until `count` messages came back or `waitSeconds` ran out. */
    async function drain(queue: JobQueue, count: number, visibilitySeconds = 30, waitSeconds = 3): Promise<ReceivedMessage[]> {
      const got: ReceivedMessage[] = [];
      const end = Date.now() + waitSeconds * 1000;
      while (got.length < count && Date.now() < end) {
        got.push(...(await queue.receive({ max: 10, waitSeconds: 1, visibilitySeconds })));
      }
      return got;
    }

    it('answers ping', async () => {
      const queue = await open();
      await expect(queue.ping()).resolves.toBeUndefined();
    });

    it('delivers a sent message with its body, id, first receive count and sent time', async () => {
      const queue = await open();
      const before = Date.now();
      const messageId = await queue.send({ jobId: 'job-1' });
      expect(typeof messageId).toBe('string');
      const [m, ...rest] = await drain(queue, 1);
      expect(rest).toEqual([]);
      expect(m.messageId).toBe(messageId);
      expect(m.body).toEqual({ jobId: 'job-1' });
      expect(m.receiveCount).toBe(1);
      expect(typeof m.receipt).toBe('string');
      const sentAt = Date.parse(m.sentAt);
      expect(sentAt).toBeGreaterThanOrEqual(before - 2000);
      expect(sentAt).toBeLessThanOrEqual(Date.now() + 2000);
      await queue.delete(m.receipt);
    });

    it('returns nothing from an empty queue without waiting when waitSeconds is 0', async () => {
      const queue = await open();
      expect(await queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 5 })).toEqual([]);
    });

    it('delivers each of several messages once while none lets its visibility lapse', async () => {
      const queue = await open();
      const ids = await Promise.all(['a', 'b', 'c', 'd'].map((j) => queue.send({ jobId: j })));
      const got = await drain(queue, 4);
      expect(got.map((m) => m.messageId).sort()).toEqual([...ids].sort());
      expect(got.map((m) => m.body.jobId).sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(await queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 30 })).toEqual([]);
    });

    it('respects max', async () => {
      const queue = await open();
      for (const j of ['a', 'b', 'c']) await queue.send({ jobId: j });
      const got = await queue.receive({ max: 2, waitSeconds: 2, visibilitySeconds: 30 });
      expect(got.length).toBeGreaterThanOrEqual(1);
      expect(got.length).toBeLessThanOrEqual(2);
    });

    it('deletes a message for good; deleting it again succeeds', async () => {
      const queue = await open();
      await queue.send({ jobId: 'job-del' });
      const [m] = await drain(queue, 1, 1);
      await queue.delete(m.receipt);
      await expect(queue.delete(m.receipt)).resolves.toBeUndefined();
      await sleep(1000 + slack);
      expect(await queue.receive({ max: 10, waitSeconds: 1, visibilitySeconds: 1 })).toEqual([]);
      await eventually(async () => expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 }));
    });

    it('holds a delayed message back until its delay passes', async () => {
      const queue = await open();
      await queue.send({ jobId: 'job-later' }, { delaySeconds: 1 });
      expect(await queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 30 })).toEqual([]);
      await eventually(async () => expect((await queue.depth()).delayed).toBe(1), 800, 50);
      const got = await drain(queue, 1, 30, 4);
      expect(got.map((m) => m.body.jobId)).toEqual(['job-later']);
    });

    it('redelivers a message whose visibility ran out, with a higher receive count and a new receipt', async () => {
      const queue = await open();
      const id = await queue.send({ jobId: 'job-redeliver' });
      const [first] = await drain(queue, 1, 1);
      expect(await queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 1 })).toEqual([]);
      await sleep(1000 + slack);
      const [second] = await drain(queue, 1, 30);
      expect(second.messageId).toBe(id);
      expect(second.receiveCount).toBe(first.receiveCount + 1);
      expect(second.receipt).not.toBe(first.receipt);
      await queue.delete(second.receipt);
    });

    it('keeps a message hidden while its visibility is extended', async () => {
      const queue = await open();
      await queue.send({ jobId: 'job-extend' });
      const [m] = await drain(queue, 1, 1);
      await queue.extend(m.receipt, 4);
      await sleep(1000 + slack + 500);
      expect(await queue.receive({ max: 1, waitSeconds: 0, visibilitySeconds: 30 })).toEqual([]);
      await eventually(async () => expect((await queue.depth()).inFlight).toBe(1));
      await queue.delete(m.receipt);
    });

    it('makes a message visible again at once when extended by 0 seconds (a nack)', async () => {
      const queue = await open();
      await queue.send({ jobId: 'job-nack' });
      const [m] = await drain(queue, 1, 30);
      await queue.extend(m.receipt, 0);
      const [again] = await drain(queue, 1, 30);
      expect(again.body.jobId).toBe('job-nack');
      expect(again.receiveCount).toBe(2);
    });

    it('counts visible, in-flight and delayed messages', async () => {
      const queue = await open();
      await queue.send({ jobId: 'v1' });
      await queue.send({ jobId: 'v2' });
      await queue.send({ jobId: 'd1' }, { delaySeconds: 30 });
      await eventually(async () => expect(await queue.depth()).toEqual({ visible: 2, inFlight: 0, delayed: 1 }));
      const [m] = await queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 30 });
      expect(m).toBeDefined();
      await eventually(async () => expect(await queue.depth()).toEqual({ visible: 1, inFlight: 1, delayed: 1 }));
    });

    it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
      const queue = await open(2);
      const sent = await Promise.all(['dl-a', 'dl-b', 'dl-c'].map((j) => queue.send({ jobId: j })));
      const first = await drain(queue, 3, 1);
      expect(first.every((m) => m.receiveCount === 1)).toBe(true);
      await sleep(1000 + slack);
      const second = await drain(queue, 3, 1);
      expect(second.every((m) => m.receiveCount === 2)).toBe(true);
      await sleep(1000 + slack);
      // The third receive finds them spent: none is delivered a third time.
      expect(await queue.receive({ max: 10, waitSeconds: 1, visibilitySeconds: 1 })).toEqual([]);
      await eventually(async () => expect(await queue.deadLetterDepth()).toBe(3));

      const listed = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await queue.listDeadLetters({ limit: 2, cursor });
        listed.push(...page.items);
        cursor = page.cursor;
        expect(++pages).toBeLessThan(10);
      } while (cursor);
      expect(listed.map((d) => d.messageId).sort()).toEqual([...sent].sort());
      expect(listed.map((d) => d.body.jobId).sort()).toEqual(['dl-a', 'dl-b', 'dl-c']);
      for (const d of listed) {
        expect(d.receiveCount).toBeGreaterThanOrEqual(2);
        expect(Number.isNaN(Date.parse(d.sentAt))).toBe(false);
      }

      expect(await queue.deleteDeadLettersFor('dl-b')).toBe(1);
      expect(await queue.deleteDeadLettersFor('dl-b')).toBe(0);
      expect(await queue.deleteDeadLettersFor('never-sent')).toBe(0);
      await eventually(async () => expect(await queue.deadLetterDepth()).toBe(2));
      const rest = (await queue.listDeadLetters()).items.map((d) => d.body.jobId).sort();
      expect(rest).toEqual(['dl-a', 'dl-c']);
      await eventually(async () => expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 }));
    });

    it('has an empty dead-letter queue to begin with', async () => {
      const queue = await open();
      expect(await queue.deadLetterDepth()).toBe(0);
      expect(await queue.listDeadLetters()).toEqual({ items: [] });
    });

    it('ends a long poll as soon as a message arrives, before the wait is over', async () => {
      const queue = await open();
      const started = Date.now();
      const receiving = queue.receive({ max: 1, waitSeconds: 8, visibilitySeconds: 30 });
      await sleep(300);
      await queue.send({ jobId: 'job-mid-wait' });
      const got = await receiving;
      const elapsed = Date.now() - started;
      expect(got.map((m) => m.body.jobId)).toEqual(['job-mid-wait']);
      expect(elapsed).toBeLessThan(7000);
    });

    it('waits the whole long poll when nothing arrives', async () => {
      const queue = await open();
      const started = Date.now();
      expect(await queue.receive({ max: 1, waitSeconds: 1, visibilitySeconds: 30 })).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });

    it('ends a long poll early with [] when its signal aborts', async () => {
      const queue = await open();
      const controller = new AbortController();
      const started = Date.now();
      const receiving = queue.receive({ max: 1, waitSeconds: 10, visibilitySeconds: 30, signal: controller.signal });
      await sleep(200);
      controller.abort();
      expect(await receiving).toEqual([]);
      expect(Date.now() - started).toBeLessThan(9000);
    });

    it('returns [] at once for a signal already aborted', async () => {
      const queue = await open();
      const controller = new AbortController();
      controller.abort();
      const started = Date.now();
      expect(await queue.receive({ max: 1, waitSeconds: 10, visibilitySeconds: 30, signal: controller.signal })).toEqual([]);
      expect(Date.now() - started).toBeLessThan(9000);
    });
  });
}
