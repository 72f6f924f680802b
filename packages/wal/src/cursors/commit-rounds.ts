import type { CursorFile } from './cursor-file.js';

interface Pending {
  readonly file: CursorFile;
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
 * every record pays one round per batch of records, not one per record, and the cursors
 * committed together are written and synced side by side, all in flight at once.
 */
export class CommitRounds {
  private next = new Map<string, Pending>();
  /** The round on disk now. */
  private writing: readonly Pending[] = [];
  private running: Promise<void> | undefined;
  /** Completed rounds, the cursor files they wrote, and how many of those were written whole. */
  rounds = 0;
  filesWritten = 0;
  filesReplaced = 0;

  /**
   * Resolves, with the LSN written, once a round that wrote `lsn` (or a later commit of
   * the same cursor, which then wins) is durable; `onDurable` is called with it first.
   * Every commit of a cursor that waits for the same round gets the same promise: a
   * consumer that commits after every record without awaiting each pays no promise per
   * record, and a failed round it never awaited is no unhandled rejection (its position
   * stays the last durable one).
   */
  commit(
    file: CursorFile,
    lsn: bigint,
    generation: bigint,
    onDurable?: (lsn: bigint) => void,
  ): Promise<bigint> {
    let pending = this.next.get(file.name);
    if (pending === undefined) {
      let resolve!: (lsn: bigint) => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<bigint>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(ignore);
      if (onDurable) done.then(onDurable, ignore);
      pending = { file, lsn, generation, done, resolve, reject };
      this.next.set(file.name, pending);
    }
    pending.lsn = lsn;
    pending.generation = generation;
    this.running ??= this.run();
    return pending.done;
  }

  /**
   * The lowest LSN a commit of cursor file `name` not yet durable asks for (in the round on
   * disk or the next one), undefined when none is: what the cursor may land on.
   */
  lowestUnsettled(name: string): bigint | undefined {
    let lowest = this.next.get(name)?.lsn;
    for (const pending of this.writing) {
      if (pending.file.name === name && (lowest === undefined || pending.lsn < lowest))
        lowest = pending.lsn;
    }
    return lowest;
  }

  /** Resolves when no round is running or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.next.size > 0) {
        const round = [...this.next.values()];
        this.next = new Map();
        this.writing = round;
        // Each cursor's commits succeed or fail with its own file.
        await Promise.all(round.map((pending) => this.write(pending)));
        this.rounds++;
      }
    } finally {
      this.writing = [];
      this.running = undefined;
    }
  }

  private async write(pending: Pending): Promise<void> {
    const { file, lsn, generation } = pending;
    try {
      if (await file.write({ lsn, generation })) this.filesReplaced++;
      this.filesWritten++;
      pending.resolve(lsn);
    } catch (error) {
      pending.reject(error);
    }
  }
}
