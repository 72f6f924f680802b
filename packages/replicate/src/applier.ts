import { Batch, type Wal, WalError, WalErrorCode } from '@walnut/wal';
import { decodeMessage, MessageKind } from './message.js';
import { recordInput } from './shipped-records.js';

/** The stream skipped LSNs this replica needs (trimmed): restore them from the object store. */
export class GapError extends WalError {
  constructor(
    readonly needFrom: bigint,
    readonly streamHas: bigint,
  ) {
    super(
      WalErrorCode.DIVERGED,
      `the replica needs LSN ${needFrom} next, but the stream continues at LSN ${streamHas}: the records in between were trimmed from the stream and could not be restored from the object store`,
      { details: { needFrom, streamHas } },
    );
  }
}

const MAX_PENDING = 64;

/**
 * Appends a stream's messages to a local log at their own LSNs (`appendBatch` with
 * `firstLsn`, so the log refuses a gap or an overlap), checking that each one follows on.
 * Appends are pipelined (the Wal's group commit makes them durable together); `durable`
 * is the last LSN whose append resolved, i.e. is on this replica's disk.
 */
export class Applier {
  /** Last LSN handed to the log. */
  appended: bigint;
  /** Last LSN durable in the log. */
  durable: bigint;
  /** The highest epoch seen in the stream. */
  epoch = 0;
  /** Sequence of the last message applied (or skipped as already present). */
  lastSeq = 0;
  messages = 0;
  private failure: unknown = null;
  private readonly pending = new Set<Promise<unknown>>();
  private listeners: ((durable: bigint) => void)[] = [];

  constructor(
    private readonly wal: Wal,
    private readonly where: string,
  ) {
    this.appended = wal.lastLsn;
    this.durable = wal.lastLsn;
  }

  get error(): unknown {
    return this.failure;
  }

  onDurable(listener: (durable: bigint) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Applies the message stored at `seq`. Resolves once the log accepted it (not yet
   * durable); throws WAL_DIVERGED when it does not follow on.
   */
  async apply(data: Uint8Array, seq: number): Promise<void> {
    if (this.failure !== null) throw this.failure;
    const message = decodeMessage(data, `${this.where}#${seq}`);
    if (message.epoch < this.epoch) {
      throw this.fail(
        new WalError(
          WalErrorCode.DIVERGED,
          `message ${this.where}#${seq} is of epoch ${message.epoch}, after a message of epoch ${this.epoch}: the stream's order is broken`,
        ),
      );
    }
    this.epoch = message.epoch;
    this.lastSeq = seq;
    this.messages++;
    if (message.kind === MessageKind.EPOCH) {
      if (message.lastLsn < this.appended) {
        throw this.fail(
          new WalError(
            WalErrorCode.DIVERGED,
            `epoch ${message.epoch} began after LSN ${message.lastLsn}, but this replica's log goes on to LSN ${this.appended}: LSNs ${message.lastLsn + 1n}–${this.appended} here were never replicated (the unreplicated tail of a fenced primary); start this replica in an empty directory`,
            { details: { from: message.lastLsn + 1n, to: this.appended } },
          ),
        );
      }
      return;
    }
    if (message.lastLsn <= this.appended) return;
    const skip = this.appended + 1n - message.firstLsn;
    if (skip < 0n) throw new GapError(this.appended + 1n, message.firstLsn);
    const batch = new Batch();
    for (let i = Number(skip); i < message.records.length; i++) {
      batch.addRecord(recordInput(message.records[i]!));
    }
    const firstLsn = this.appended + 1n;
    this.appended = message.lastLsn;
    const append = this.wal.appendBatch(batch, { firstLsn }).then(
      (last) => {
        if (last > this.durable) this.durable = last;
        for (const listener of this.listeners) listener(this.durable);
      },
      (error) => {
        this.fail(error);
      },
    );
    this.pending.add(append);
    append.finally(() => this.pending.delete(append));
    if (this.pending.size >= MAX_PENDING) await Promise.race(this.pending);
  }

  /** Waits until every append handed to the log is durable (or failed). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    if (this.failure !== null) throw this.failure;
  }

  private fail(error: unknown): unknown {
    this.failure ??= error;
    return this.failure;
  }
}
