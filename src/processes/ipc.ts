/**
 * The messages between a local fleet (`src/controller/local-fleet.ts`) and its worker children,
 * over Node's IPC channel. Both sides use these types and `parseWorkerMessage`, so a renamed
 * field fails the typecheck instead of going silently unheard.
 */

/** Child to parent: the model is loaded and jobs are being taken. */
export interface ReadyMessage {
  type: 'ready';
  workerId: string;
}

/** Child to parent: a job settled (done, retried or dead-lettered); `up` wakes its long-polls with it. */
export interface JobSettledMessage {
  type: 'job-settled';
  jobId: string;
}

/** Parent to child: finish the job in hand and what waits, then exit at the first empty receive. */
export interface RetireMessage {
  type: 'retire';
}

export type WorkerMessage = ReadyMessage | JobSettledMessage | RetireMessage;

/** A message received over IPC, checked; undefined for anything that is not one of ours. */
export function parseWorkerMessage(message: unknown): WorkerMessage | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as { type?: unknown; jobId?: unknown; workerId?: unknown };
  switch (m.type) {
    case 'ready':
      return { type: 'ready', workerId: typeof m.workerId === 'string' ? m.workerId : '' };
    case 'job-settled':
      return typeof m.jobId === 'string' ? { type: 'job-settled', jobId: m.jobId } : undefined;
    case 'retire':
      return { type: 'retire' };
    default:
      return undefined;
  }
}

/** Send to the parent, if there is one listening. `send` fails only when the parent is gone: ignored. */
export function sendToParent(message: ReadyMessage | JobSettledMessage): void {
  process.send?.(message, undefined, {}, () => undefined);
}
