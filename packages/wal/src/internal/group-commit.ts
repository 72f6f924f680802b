import type { LogEngine } from '../engine.js';
import type { Durability } from '../options.js';
import type { WalCounters } from '../wal-stats.js';

/** What group commit asks of the Wal's append queue. */
export interface CommitQueue {
  /** Payload+meta bytes appended so far. */
  bytesAppended(): number;
  /** Nothing appended waits for a write or a sync. */
  idle(): boolean;
  /** The highest LSN appended. */
  lastAssigned(): bigint;
  isClosed(): boolean;
  isPoisoned(): boolean;
  /** Records up to `lsn` are committed (0n: none of them newly). */
  settle(lsn: bigint): void;
  /** A commit that began once `bytesEnd` bytes were appended completed. */
  committed(bytesEnd: number): void;
  /** A write or sync failed (ENOSPC rolls back; anything else poisons the log). */
  failed(error: unknown): void;
  /** A commit ended, well or not: blocked appends may go in, waiters look again. */
  afterCommit(): void;
}

/**
 * Group commit: everything appended while no commit runs goes out in one write and (in
 * 'sync') one fdatasync; the interval sync of durability 'interval'. `kick()` is the only
 * call per append, and returns at once while a commit is scheduled or running.
 */
export class GroupCommit {
  private scheduled = false;
  private inFlight: Promise<void> | undefined;
  private backgroundSync: Promise<void> | undefined;
  private intervalTimer: NodeJS.Timeout | undefined;
  private lastSyncedLsn: bigint;
  private readonly waitsForCommit: boolean;

  constructor(
    private readonly engine: LogEngine,
    private readonly durability: Durability,
    private readonly maxGroupWaitMs: number,
    private readonly queue: CommitQueue,
    private readonly counters: WalCounters,
  ) {
    this.waitsForCommit = durability === 'sync' || durability === 'flush';
    this.lastSyncedLsn = engine.durableLsn;
  }

  /**
   * Starts a commit soon: at the end of the current burst of synchronous appends (a
   * microtask), or after `maxGroupWaitMs`. In the modes that do not wait for commits the
   * background write runs once the event loop turns, so a tight append loop is not
   * interrupted by one write per record.
   */
  kick(): void {
    if (this.scheduled || this.inFlight) return;
    if (this.queue.idle()) return;
    this.scheduled = true;
    if (!this.waitsForCommit) setImmediate(this.tick);
    else if (this.maxGroupWaitMs > 0) setTimeout(this.tick, this.maxGroupWaitMs);
    else queueMicrotask(this.tick);
  }

  /** Syncs everything appended so far; resolves with durableLsn. */
  async sync(): Promise<bigint> {
    let durable: bigint;
    try {
      durable = await this.engine.sync();
    } catch (error) {
      this.queue.failed(error);
      throw error;
    }
    this.queue.settle(durable);
    return durable;
  }

  /** Each advance of durableLsn is one completed fdatasync covering new records. */
  countSync(durable: bigint): void {
    if (durable <= this.lastSyncedLsn) return;
    this.counters.syncs++;
    this.counters.syncedRecords += Number(durable - this.lastSyncedLsn);
    this.lastSyncedLsn = durable;
  }

  /** Durability 'interval': a background sync every `ms` while records are not durable. */
  startInterval(ms: number): void {
    this.intervalTimer = setInterval(() => this.intervalSync(), ms);
    this.intervalTimer.unref();
  }

  stopInterval(): void {
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    this.intervalTimer = undefined;
  }

  /** The commit running now, if any (one ending may start the next). */
  running(): Promise<void> | undefined {
    return this.inFlight;
  }

  /** The interval's background sync running now, if any. */
  backgroundSyncRunning(): Promise<void> | undefined {
    return this.backgroundSync;
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    this.start();
  };

  /** One group: everything appended so far goes out in one write + (in 'sync') one fdatasync. */
  private start(): void {
    const queue = this.queue;
    if (this.inFlight || queue.isClosed() || queue.isPoisoned()) return;
    if (queue.idle()) return;
    const bytesEnd = queue.bytesAppended();
    const syncing = this.durability === 'sync';
    const operation = syncing ? this.engine.sync() : this.engine.flush();
    this.inFlight = operation.then(
      (covered) => this.done(covered, bytesEnd, syncing),
      (error) => this.failed(error),
    );
  }

  private done(covered: bigint, bytesEnd: number, synced: boolean): void {
    this.inFlight = undefined;
    if (this.queue.isClosed()) return;
    if (!synced) this.counters.flushes++;
    this.queue.committed(bytesEnd);
    this.queue.settle(synced ? covered : this.durability === 'flush' ? covered : 0n);
    this.queue.afterCommit();
    this.kick();
  }

  private failed(error: unknown): void {
    this.inFlight = undefined;
    if (this.queue.isClosed()) return;
    this.queue.failed(error);
    this.queue.afterCommit();
    this.kick();
  }

  private intervalSync(): void {
    if (this.backgroundSync || this.queue.isPoisoned() || this.queue.isClosed()) return;
    if (this.engine.durableLsn >= this.queue.lastAssigned()) return;
    this.backgroundSync = this.sync().then(
      () => {
        this.backgroundSync = undefined;
      },
      () => {
        this.backgroundSync = undefined;
      },
    );
  }
}
