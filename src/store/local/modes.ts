/**
 * Modes of what the local stores create: owner only. The data dir and every directory under it
 * are made 0700, every file 0600 (SQLite gives its -wal and -shm files the database's mode).
 * Created that way rather than chmod-ed afterwards, so nothing is readable by others even for a
 * moment. An existing data dir keeps the mode its operator gave it.
 */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
