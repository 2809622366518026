import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log.js';

/**
 * Wake-ups for waiting receivers when the database may hold something new: at once for
 * writes made in this process (`notify`), and, through a watch on the data dir, for commits
 * made by other processes, which land in the `-wal` file. The watch is a hint, not a
 * guarantee (some filesystems deliver no events), so receivers still poll on a timer.
 *
 * `generation` moves on every wake-up, so a waiter that read it before looking at the table
 * can tell a change happened in between and look again instead of sleeping through it.
 */
export class ChangeFeed extends EventEmitter {
  generation = 0;
  private watcher: fs.FSWatcher | null = null;
  private users = 0;
  /** True while the directory watch runs; receivers poll faster without it. */
  watching = false;

  constructor(private readonly file: string) {
    super();
    // Every waiting receive listens; a worker process may run several.
    this.setMaxListeners(0);
  }

  /** Something changed: wake every waiter. */
  notify(): void {
    this.generation += 1;
    this.emit('change');
  }

  /** Start (or share) the directory watch. Returns its release. */
  retain(log?: Logger): () => void {
    this.users += 1;
    if (this.users === 1) this.startWatch(log);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.users -= 1;
      if (this.users === 0) this.stopWatch();
    };
  }

  private startWatch(log?: Logger): void {
    const wal = `${path.basename(this.file)}-wal`;
    try {
      // persistent: false so an idle watch never keeps a process alive.
      this.watcher = fs.watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === wal) this.notify();
      });
      this.watcher.on('error', (err) => {
        log?.warn({ err }, 'database watch failed; queue receivers fall back to polling');
        this.stopWatch();
      });
      this.watching = true;
    } catch (err) {
      log?.warn({ err }, 'cannot watch the data dir; queue receivers fall back to polling');
      this.watcher = null;
    }
  }

  private stopWatch(): void {
    this.watching = false;
    this.watcher?.close();
    this.watcher = null;
  }
}

const feeds = new Map<string, ChangeFeed>();

/** The process-wide feed for one database file. */
export function changeFeedFor(file: string): ChangeFeed {
  let feed = feeds.get(file);
  if (!feed) {
    feed = new ChangeFeed(file);
    feeds.set(file, feed);
  }
  return feed;
}
