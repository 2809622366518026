/**
 * The embedded schema, as an ordered list of migrations. `PRAGMA user_version` records how
 * many have run; {@link migrate} applies the rest inside one IMMEDIATE transaction so two
 * processes opening a fresh data dir at once do not both apply them.
 *
 * Append only: never edit a migration that has shipped, add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: jobs, queue, dead letters, gallery, keys, workers.
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    record TEXT NOT NULL
  ) STRICT;
  CREATE INDEX jobs_by_state ON jobs (state, updated_at, id);

  -- seq orders messages (SQS standard queues are only roughly FIFO; oldest first is kinder).
  -- visible_at is epoch ms: due when <= now. receipt is the current delivery's handle.
  CREATE TABLE queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
  ) STRICT;
  CREATE INDEX queue_messages_due ON queue_messages (visible_at, seq);

  CREATE TABLE dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    dead_lettered_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX dead_letters_by_job ON dead_letters (job_id);

  CREATE TABLE identities (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE TABLE faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    identity TEXT NOT NULL REFERENCES identities (name) ON DELETE CASCADE,
    descriptor BLOB NOT NULL,
    source TEXT,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX faces_by_identity ON faces (identity);

  -- One counter per name; the gallery bumps 'gallery' in the same transaction as each change.
  CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  INSERT INTO counters (name, value) VALUES ('gallery', 0);

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
  ) STRICT;

  CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    beat TEXT NOT NULL
  ) STRICT;
  `,
  // 2: a worker asked to retire (exit once the queue is empty) learns it from its next heartbeat.
  `
  ALTER TABLE workers ADD COLUMN retire_at TEXT;
  `,
  // 3: the recognition pipeline that made each face's descriptor; older faces are standard's.
  `
  ALTER TABLE faces ADD COLUMN pipeline TEXT NOT NULL DEFAULT 'standard';
  `,
];
