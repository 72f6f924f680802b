import type { StorageIo } from '@walnut/storage-io';
import { writeCursorFiles } from './cursor-write.js';

interface Pending {
  lsn: bigint;
  generation: bigint;
  readonly done: Promise<bigint>;
  readonly resolve: (lsn: bigint) => void;
  readonly reject: (error: unknown) => void;
}

const ignore = (): void => undefined;

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
   * `name`, which then wins) is durable; `onDurable` is called with it first. Every commit
   * of a cursor that waits for the same round gets the same promise: a consumer that
   * commits after every record without awaiting each pays no promise per record, and a
   * failed round it never awaited is no unhandled rejection (its position stays the last
   * durable one).
   */
  commit(
    name: string,
    lsn: bigint,
    generation: bigint,
    onDurable?: (lsn: bigint) => void,
  ): Promise<bigint> {
    let pending = this.next.get(name);
    if (pending === undefined) {
      let resolve!: (lsn: bigint) => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<bigint>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(ignore);
      if (onDurable) done.then(onDurable, ignore);
      pending = { lsn, generation, done, resolve, reject };
      this.next.set(name, pending);
    }
    pending.lsn = lsn;
    pending.generation = generation;
    this.running ??= this.run();
    return pending.done;
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
        const writes = [...round].map(([name, { lsn, generation }]) => ({ name, lsn, generation }));
        let failure: unknown;
        try {
          await writeCursorFiles(this.io, this.logDir, writes);
          this.rounds++;
          this.filesWritten += writes.length;
        } catch (error) {
          failure = error;
        }
        for (const pending of round.values()) {
          if (failure === undefined) pending.resolve(pending.lsn);
          else pending.reject(failure);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
