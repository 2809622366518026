/**
 * `facefleet web --web-processes N`: N web processes behind one port, with node:cluster. The
 * web tier keeps no state of its own between requests (jobs, messages, blobs, keys all live
 * in the stores), so any process can answer any request. What is per process, and how it is
 * handled:
 *
 * - **Connections**: the primary accepts them and hands each to a web process in turn
 *   (cluster's round robin); keep-alive requests stay on their connection's process.
 * - **Sweeper**: only web process 0 runs it (the others would only repeat its work).
 * - **Rate limit**: each process allows `rate / N` per key or address, so a client spread over
 *   several connections still gets about `rate` in all (one connection gets `rate / N`).
 * - **Metrics**: `GET /metrics`, in whichever process answers, is the sum over every web
 *   process (prom-client's AggregatorRegistry, gathered by the primary over IPC). Gauges read
 *   from the stores (queue depth, jobs by state) are taken from one process, not summed.
 * - **Long polls** read the job store, so they see a job finished through any process.
 * - **Lifecycle**: the primary opens no store. It prints the listening line once every web
 *   process listens; a web process that exits before that fails the start; one that dies later
 *   is replaced. SIGTERM/SIGINT to the primary stop every web process gracefully.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../log.js';

/** Set in each forked web process: its index, 0..N-1. */
const INDEX_ENV = 'FACEFLEET_WEB_PROCESS_INDEX';
const COUNT_ENV = 'FACEFLEET_WEB_PROCESSES';

type Message =
  | { type: 'facefleet:web-listening'; url: string }
  | { type: 'facefleet:metrics-request'; id: number }
  | { type: 'facefleet:metrics-response'; id: number; body?: string; contentType?: string; error?: string };

/** This process's place in a web cluster, or undefined when it is not a forked web process. */
export function webClusterMember(): { index: number; processes: number } | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[INDEX_ENV]);
  const processes = Number(process.env[COUNT_ENV]);
  if (!Number.isInteger(index) || !Number.isInteger(processes) || processes < 1) return undefined;
  return { index, processes };
}

/** In a web process: tell the primary where it listens. */
export function announceListening(url: string): void {
  process.send?.({ type: 'facefleet:web-listening', url } satisfies Message);
}

/**
 * In a web process: what `GET /metrics` answers, summed over every web process by the
 * primary. `registries` are this process's; the primary asks each process for its own.
 */
export function clusterMetricsRenderer(registries: Registry[], timeoutMs = 5_000): () => Promise<{ contentType: string; body: string }> {
  // Constructing one installs prom-client's answer to the primary's requests (in a worker).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries(registries);
  let next = 0;
  const pending = new Map<number, { resolve: (r: { contentType: string; body: string }) => void; reject: (e: Error) => void }>();
  process.on('message', (message: Message) => {
    if (message?.type !== 'facefleet:metrics-response') return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error !== undefined || message.body === undefined) waiter.reject(new Error(`cluster metrics: ${message.error ?? 'no body'}`));
    else waiter.resolve({ contentType: message.contentType ?? AggregatorRegistry.PROMETHEUS_CONTENT_TYPE, body: message.body });
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`cluster metrics: no answer from the primary within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      process.send?.({ type: 'facefleet:metrics-request', id } satisfies Message);
    });
}

export interface WebCluster {
  /** The URL every web process listens on. */
  url: string;
  /** SIGTERM every web process and wait for them to exit. Idempotent. */
  close(): Promise<void>;
}

/**
 * In the primary: fork `processes` web processes running this same command line (same Node
 * flags and loaders), and resolve once all of them listen. Rejects, having stopped the others,
 * when one exits before it listens (a bad configuration fails the whole start).
 */
export function startWebCluster(options: { processes: number; log: Logger; env?: NodeJS.ProcessEnv; restartDelayMs?: number }): Promise<WebCluster> {
  const { processes, log } = options;
  const restartDelayMs = options.restartDelayMs ?? 1_000;
  const aggregator = new AggregatorRegistry();
  const listening = new Map<number, string>();
  const byIndex = new Map<number, Worker>();
  let closing: Promise<void> | undefined;
  let started = false;

  cluster.setupPrimary({ execArgv: process.execArgv, args: process.argv.slice(2) });

  return new Promise<WebCluster>((resolve, reject) => {
    const fail = (err: Error) => {
      if (started) return;
      started = true;
      void stopAll().then(() => reject(err));
    };

    function fork(index: number): void {
      const worker = cluster.fork({ ...options.env, [INDEX_ENV]: String(index), [COUNT_ENV]: String(processes) });
      byIndex.set(index, worker);
      worker.on('message', (message: Message) => {
        if (message?.type === 'facefleet:web-listening') {
          listening.set(index, message.url);
          log.info({ webProcess: index, pid: worker.process.pid, url: message.url }, 'web process listening');
          if (!started && listening.size === processes) {
            started = true;
            resolve({ url: message.url, close: stopAll });
          }
        } else if (message?.type === 'facefleet:metrics-request') {
          aggregator.clusterMetrics().then(
            (body) => worker.isConnected() && worker.send({ type: 'facefleet:metrics-response', id: message.id, body, contentType: aggregator.contentType } satisfies Message),
            (err: unknown) =>
              worker.isConnected() && worker.send({ type: 'facefleet:metrics-response', id: message.id, error: err instanceof Error ? err.message : String(err) } satisfies Message),
          );
        }
      });
      worker.on('exit', (code, signal) => {
        if (byIndex.get(index) === worker) byIndex.delete(index);
        if (closing) return;
        if (!listening.has(index) || !started) {
          fail(new Error(`web process ${index} exited (${signal ?? `code ${code}`}) before it was listening; see its log above`));
          return;
        }
        listening.delete(index);
        log.error({ webProcess: index, code, signal }, 'web process died; starting another');
        setTimeout(() => {
          if (!closing) fork(index);
        }, restartDelayMs).unref();
      });
    }

    function stopAll(): Promise<void> {
      closing ??= Promise.all(
        [...byIndex.values()].map(
          (worker) =>
            new Promise<void>((done) => {
              if (worker.isDead()) return done();
              worker.once('exit', () => done());
              worker.process.kill('SIGTERM');
            }),
        ),
      ).then(() => undefined);
      return closing;
    }

    for (let i = 0; i < processes; i++) fork(i);
  });
}
