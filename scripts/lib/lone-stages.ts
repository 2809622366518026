/**
 * Where a lone request's time goes, from the job's own history: the web tier accepting it
 * (upload sent -> `queued`), the queue handing it to the warm worker (`queued` -> `processing`),
 * the worker's attempt (`processing` -> `done`: reading the input, the engine, the gallery, the
 * save), and the answer (`done` -> the response read by the client: the long-poll's wake-up,
 * the read, the response). History times are the processes' wall clocks, in milliseconds, on
 * the same machine as the client.
 */
import { percentile } from './http-client.js';

export interface LoneStages {
  accept: number;
  dispatch: number;
  attempt: number;
  answer: number;
  /** Everything but the attempt: accept + dispatch + answer. */
  overhead: number;
  total: number;
}

export const STAGE_NAMES: ReadonlyArray<keyof LoneStages> = ['accept', 'dispatch', 'attempt', 'answer', 'overhead', 'total'];

interface HistoryLike {
  at: string;
  to: string;
}

/**
 * The stages of one request: `sentAt` and `receivedAt` are the client's `Date.now()` when it
 * began sending and when it had the answer. Null when the history lacks a transition (a
 * retried or dead-lettered job: not a lone user's ordinary path).
 */
export function loneStages(history: HistoryLike[], sentAt: number, receivedAt: number): LoneStages | null {
  const at = (to: string): number | undefined => {
    const e = history.find((h) => h.to === to);
    return e ? Date.parse(e.at) : undefined;
  };
  const queued = at('queued'), processing = at('processing'), done = at('done');
  if (queued === undefined || processing === undefined || done === undefined) return null;
  const total = receivedAt - sentAt, attempt = done - processing;
  return { accept: queued - sentAt, dispatch: processing - queued, attempt, answer: receivedAt - done, overhead: total - attempt, total };
}

/** p50 and p95 of each stage over the requests. */
export function summariseStages(all: LoneStages[]): Record<keyof LoneStages, { p50: number; p95: number }> {
  const out = {} as Record<keyof LoneStages, { p50: number; p95: number }>;
  for (const k of STAGE_NAMES) {
    const xs = all.map((s) => s[k]);
    out[k] = { p50: percentile(xs, 50), p95: percentile(xs, 95) };
  }
  return out;
}
