import type { StorageIo } from '@walnut/storage-io';
import { writeCursorFiles } from './cursor-write.js';

interface Pending {
  lsn: bigint;
  readonly waiters: { resolve: (lsn: bigint) => void; reject: (error: unknown) => void }[];
}

/**
 * Group commit for cursors: while one round of cursor writes is on disk, the commits that
 * arrive gather for the next, each cursor at its latest LSN. A consumer that commits after
 * every record pays one round per batch of records, not one per record, and consumers that
 * commit together share each round's directory fsync.
 */
export class CommitRounds {
  private next = new Map<string, Pending>();
  private running: Promise<void> | undefined;
  /** Completed rounds and the cursor files they wrote, for stats. */
  rounds = 0;
  filesWritten = 0;

  constructor(
    private readonly io: StorageIo,
    private readonly logDir: string,
  ) {}

  /**
   * Resolves, with the LSN written, once a round that wrote `lsn` (or a later commit of
   * `name`, which then wins) is durable.
   */
  commit(name: string, lsn: bigint): Promise<bigint> {
    let pending = this.next.get(name);
    if (pending === undefined) {
      pending = { lsn, waiters: [] };
      this.next.set(name, pending);
    }
    pending.lsn = lsn;
    const waiters = pending.waiters;
    const done = new Promise<bigint>((resolve, reject) => waiters.push({ resolve, reject }));
    this.running ??= this.run();
    return done;
  }

  /** Resolves when no round is running or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.next.size > 0) {
        const round = this.next;
        this.next = new Map();
        const writes = [...round].map(([name, pending]) => ({ name, lsn: pending.lsn }));
        let failure: unknown;
        try {
          await writeCursorFiles(this.io, this.logDir, writes);
          this.rounds++;
          this.filesWritten += writes.length;
        } catch (error) {
          failure = error;
        }
        for (const pending of round.values()) {
          for (const waiter of pending.waiters) {
            if (failure === undefined) waiter.resolve(pending.lsn);
            else waiter.reject(failure);
          }
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
