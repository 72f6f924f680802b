import type { LogEngine } from '../../engine.js';
import type { Durability } from '../../options.js';
import type { WalCounters } from '../../wal-stats.js';

/** What group commit asks of the Wal's append queue. */
export interface CommitQueue {
  /** Payload+meta bytes appended so far. */
  bytesAppended(): number;
  /** Nothing appended waits for a write or a sync. */
  idle(): boolean;
  /** Appends waiting for their commit. */
  waiting(): number;
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
  /** Appends waiting when the running commit started: callers it releases, who may append again. */
  private roundWaiters = 0;
  /** The same for the last commit that completed. */
  private lastRoundWaiters = 0;

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
   * microtask; see `tickSoon`), or after `maxGroupWaitMs`. In the modes that do not wait
   * for commits the background write runs once the event loop turns, so a tight append loop
   * is not interrupted by one write per record.
   */
  kick(): void {
    if (this.scheduled || this.inFlight) return;
    if (this.queue.idle()) return;
    this.scheduled = true;
    if (!this.waitsForCommit) setImmediate(this.tick);
    else if (this.maxGroupWaitMs > 0) setTimeout(this.tick, this.maxGroupWaitMs);
    else queueMicrotask(this.tickSoon);
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

  /**
   * The end of a burst of appends. Callers the last commit released who append again from a
   * callback of their own (an I/O callback, `setImmediate`: each is a burst of its own) would
   * otherwise split in two: the first would start a commit alone and the rest would wait for
   * the one after it, halving the records per fdatasync on every round. So while fewer
   * appends wait than the last commit released, the commit waits once for the end of this
   * turn of the event loop (`setImmediate`: microseconds, no timer). A lone caller awaiting
   * each append, or producers resumed in one burst, still start at once.
   */
  private readonly tickSoon = (): void => {
    if (this.queue.waiting() < this.lastRoundWaiters) {
      this.lastRoundWaiters = 0;
      setImmediate(this.tick);
    } else this.tick();
  };

  /** One group: everything appended so far goes out in one write + (in 'sync') one fdatasync. */
  private start(): void {
    const queue = this.queue;
    if (this.inFlight || queue.isClosed() || queue.isPoisoned()) return;
    if (queue.idle()) return;
    const bytesEnd = queue.bytesAppended();
    this.roundWaiters = queue.waiting();
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
    this.lastRoundWaiters = this.roundWaiters;
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
