import { Batch, type Wal, WalError, WalErrorCode } from '@walnut/wal';
import {
  crcHex,
  type DecodedMessage,
  decodeMessage,
  MessageKind,
  messageCrc,
  RESEED_FLAG,
} from '../cluster/message.js';
import { AppliedRuns } from './running-checksum.js';
import { recordInput, sameRecord } from './shipped-records.js';

/**
 * The stream skipped LSNs this replica needs (trimmed): restore them from the object store.
 * Once that was looked at too (`final`), the replica is behind for good: WAL_BAD_STATE, as
 * nothing shows another history (a stream that skips LSNs it still reaches back to is
 * WAL_DIVERGED).
 */
export class GapError extends WalError {
  constructor(
    readonly needFrom: bigint,
    readonly streamHas: bigint,
    /** True once the object store was looked at too: the replica stops for good. */
    readonly final = false,
  ) {
    super(
      final ? WalErrorCode.BAD_STATE : WalErrorCode.DIVERGED,
      `the replica needs LSN ${needFrom} next, but the stream continues at LSN ${streamHas}: LSNs ${needFrom}–${streamHas - 1n} are in neither the stream (trimmed, or lost by its servers) nor the object store, so this replica cannot catch up; start it from a copy (backup) of the primary's log, or in an empty directory once the object store holds them. To keep followers able to catch up, keep more in the stream (streamMaxMessages, streamMaxBytes, streamMaxAgeMs) and leave uploadSegments on`,
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
  /**
   * The CRC of the message at `lastSeq` when this replica took it (applied, a marker, or
   * already present): what the next message must name as the one it follows (`prev`,
   * decision 0918). Null before the first, and after a stale message skipped.
   */
  private followed: number | null = null;
  messages = 0;
  /** Messages of an older epoch than one before them in the stream: skipped, not applied. */
  stale = 0;
  /** Called for each such message, with its sequence and epoch. */
  onStale: ((seq: number, epoch: number) => void) | null = null;
  /** The running checksums of the messages applied, for the primary's mark (decision 0910). */
  readonly runs = new AppliedRuns();
  /** Called when a message of a later epoch arrives (to remember the highest seen). */
  onEpoch: ((epoch: number) => void) | null = null;
  /**
   * After a re-seeding marker below this replica's position: the LSNs up to here are
   * published again, and are checked against this log instead of appended (0n: none).
   */
  private checkTo = 0n;
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
      // Stored after a newer epoch began, so not of that epoch's history: a fenced writer's,
      // or a server copy out of order (decision 0914). Its records are never applied; the
      // newer epoch's messages carry on from where it began, and a gap they leave is a gap.
      this.lastSeq = seq;
      this.followed = null;
      this.stale++;
      this.onStale?.(seq, message.epoch);
      return;
    }
    if (
      message.prev !== 0 &&
      this.followed !== null &&
      seq === this.lastSeq + 1 &&
      message.prev !== this.followed
    ) {
      throw this.fail(forkedAt(seq, message.prev, this.followed, this.appended));
    }
    // Before anything is counted: the copy served may be another server's next time.
    const next = this.appended + 1n;
    if (message.kind !== MessageKind.EPOCH && message.firstLsn > next) {
      throw new GapError(next, message.firstLsn);
    }
    if (message.epoch > this.epoch) this.onEpoch?.(message.epoch);
    this.epoch = message.epoch;
    this.lastSeq = seq;
    this.followed = messageCrc(data);
    this.messages++;
    if (message.kind === MessageKind.EPOCH) this.runs.marker(message.epoch, seq);
    else this.runs.message(seq, this.followed);
    if (message.kind === MessageKind.EPOCH) {
      if (message.lastLsn < this.appended && (message.flags & RESEED_FLAG) !== 0) {
        // The stream went back and the primary publishes its log again from there: what
        // this replica already holds is checked as it comes, neither appended twice nor
        // taken as divergence.
        this.checkTo = this.appended;
        return;
      }
      if (message.lastLsn < this.appended) {
        throw this.fail(
          new WalError(
            WalErrorCode.DIVERGED,
            `epoch ${message.epoch} began after LSN ${message.lastLsn}, but this replica's log goes on to LSN ${this.appended}: LSNs ${message.lastLsn + 1n}–${this.appended} here are not in the stream's history. Either they were never replicated (the unreplicated tail of a fenced primary), or the stream lost them after this replica applied them (every server lost them, as in a power cut, and a replica without them was promoted); start this replica in an empty directory`,
            { details: { from: message.lastLsn + 1n, to: this.appended } },
          ),
        );
      }
      return;
    }
    if (message.firstLsn <= this.checkTo) await this.check(message, seq);
    if (message.lastLsn <= this.appended) return;
    const skip = next - message.firstLsn;
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

  /** Compares a re-published message's records this log already holds with the log's. */
  private async check(message: DecodedMessage, seq: number): Promise<void> {
    await this.drain();
    let upTo = this.checkTo;
    if (message.lastLsn < upTo) upTo = message.lastLsn;
    let i = 0;
    for await (const record of this.wal.iterator(message.firstLsn)) {
      if (record.lsn > upTo) break;
      const sent = message.records[i++]!;
      if (!sameRecord(record, sent)) {
        throw this.fail(
          new WalError(
            WalErrorCode.DIVERGED,
            `the re-seeded stream's LSN ${record.lsn} (${this.where}#${seq}) differs from this replica's: it holds another history from there (LSNs ${record.lsn}–${this.checkTo} here); start this replica in an empty directory`,
            { details: { from: record.lsn, to: this.checkTo, seq } },
          ),
        );
      }
    }
    if (message.lastLsn >= this.checkTo) this.checkTo = 0n;
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

/**
 * The message at `seq` was published after another message than the one this replica took
 * at the sequence before: the servers' copies forked there (decision 0918).
 */
function forkedAt(seq: number, prev: number, held: number, appended: bigint): WalError {
  return new WalError(
    WalErrorCode.DIVERGED,
    `the stream's message at sequence ${seq} was published after a message with CRC ${crcHex(prev)}, but the one this replica took at sequence ${seq - 1} has CRC ${crcHex(held)}: the servers' copies of the stream forked there, so the records this replica applied up to LSN ${appended} may be another history than the one its primary acknowledged; start this replica in an empty directory, or from a copy of the primary's log`,
    { details: { seq, prev, held, appliedLsn: appended } },
  );
}
