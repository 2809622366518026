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
  // 4: collections. Every identity and face of the one global gallery moves into `default`;
  // faces gain the hash of the image they came from; an ordered change table is each
  // collection's change feed. Tables are rebuilt because their primary keys change.
  `
  CREATE TABLE collections (
    name TEXT PRIMARY KEY,
    -- Changes each time the name is made anew, so a copy of a removed collection is never kept.
    uid TEXT NOT NULL,
    threshold REAL,
    created_at TEXT NOT NULL
  ) STRICT;
  INSERT INTO collections (name, uid, threshold, created_at)
    VALUES ('default', lower(hex(randomblob(8))), NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

  CREATE TABLE collection_identities (
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (collection, name)
  ) STRICT;
  INSERT INTO collection_identities (collection, name, created_at) SELECT 'default', name, created_at FROM identities;

  CREATE TABLE collection_faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    collection TEXT NOT NULL,
    identity TEXT NOT NULL,
    descriptor BLOB NOT NULL,
    source TEXT,
    pipeline TEXT NOT NULL DEFAULT 'standard',
    content_hash TEXT,
    created_at TEXT NOT NULL
  ) STRICT;
  INSERT INTO collection_faces (seq, id, collection, identity, descriptor, source, pipeline, created_at)
    SELECT seq, id, 'default', identity, descriptor, source, pipeline, created_at FROM faces ORDER BY seq;
  CREATE INDEX collection_faces_by_identity ON collection_faces (collection, identity, seq);
  CREATE INDEX collection_faces_by_hash ON collection_faces (collection, identity, content_hash) WHERE content_hash IS NOT NULL;

  DROP TABLE faces;
  DROP TABLE identities;

  -- The change feed: one row per change, in commit order. op is add, remove, remove-identity
  -- or create-identity; face_id is set for add and remove.
  CREATE TABLE gallery_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    op TEXT NOT NULL,
    identity TEXT NOT NULL,
    face_id TEXT
  ) STRICT;
  CREATE INDEX gallery_changes_by_collection ON gallery_changes (collection, seq);
  `,
  // 5: webhook endpoints per collection (the signing secret is in the record: deliveries need it).
  `
  CREATE TABLE webhook_endpoints (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (collection, id)
  ) STRICT;
  `,
  // 6: a collection's quality gates (src/recognition/quality.ts); NULL is the service default.
  `
  ALTER TABLE collections ADD COLUMN min_quality REAL;
  ALTER TABLE collections ADD COLUMN min_enroll_quality REAL;
  `,
  // 7: unknown clusters (docs/unknowns.md). A collection opts in with track_unknowns; each
  // cluster is one row: its representatives' descriptors as one BLOB of little-endian Float32
  // (in the order of the record's representatives), the rest of it as JSON.
  `
  ALTER TABLE collections ADD COLUMN track_unknowns INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE collections ADD COLUMN unknown_retention_days INTEGER;
  CREATE TABLE unknown_clusters (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    descriptors BLOB NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (collection, id)
  ) STRICT;
  CREATE INDEX unknown_clusters_by_first_seen ON unknown_clusters (collection, first_seen, id);
  `,
];
