import { isWalError, WalError, WalErrorCode } from '@walnut/codec';
import type { Segment } from '../files/segment.js';
import { Listeners } from '../listeners.js';
import type { SegmentWrite } from './pending-write.js';
import type { Counters } from './stats.js';

/** Where a rollback cuts: `offset` in `seg`, losing the records from `lostFrom` on. */
export interface RollbackPoint {
  seg: Segment;
  offset: number;
  lostFrom: bigint;
}

/** What failure handling asks of the log around it. */
export interface FailureHost {
  /** Poisoned: writes still queued fail, and every sync and flush waiter is rejected. */
  poisoned(err: WalError): void;
  /** A rollback starts: the write buffer and the writes queued behind the failure are dropped. */
  stopWriting(): void;
  /** Resolves once every write in flight, segment creation and zero fill has settled. */
  settled(): Promise<void>;
  /** The first write that did not complete, if any. */
  firstUnwritten(): SegmentWrite | undefined;
  /** The last LSN appended (the last one lost). */
  lastAssigned(): bigint;
  /** Cuts the log back to `point` (file, segments, write pipeline); throws if it cannot. */
  cut(point: RollbackPoint): Promise<void>;
  /** Rejects the waiters for records from `from` on; false when there were none. */
  rejectFrom(from: bigint, err: WalError): boolean;
  /** The rollback ended (done or poisoned): idle files may close, sync rounds resume. */
  rolledBack(): void;
}

/**
 * How the log fails (docs/decisions/0303-segmented-enospc-rollback-and-poisoning.md): a
 * failed write or fsync poisons it for good; a write that failed for lack of space rolls
 * the unacknowledged records back instead, and appending continues once space is free.
 */
export class Failures {
  /** The error every call throws once the log is poisoned. */
  poison: WalError | null = null;
  /** The rollback under way. */
  rollback: Promise<void> | null = null;
  /** What the last rollback lost (provisional while it runs). */
  rollbackError: WalError | null = null;
  readonly rollbackListeners = new Listeners<[lastLsn: bigint, error: WalError]>('onRollback');

  private readonly host: FailureHost;
  private readonly counters: Counters;
  private point: RollbackPoint | null = null;
  private unreportedLoss: WalError | null = null;

  constructor(host: FailureHost, counters: Counters) {
    this.host = host;
    this.counters = counters;
  }

  /** Poisons the log (the first cause wins). */
  poisonWith(cause: unknown): void {
    if (this.poison !== null) return;
    const inner = cause instanceof Error ? cause.message : String(cause);
    this.poison = WalError.poisoned(
      `the log is poisoned by a failed write or fsync (${inner}); data not yet durable may be lost and fsync errors cannot be retried safely. Close and reopen the log (recovery will check it)`,
      cause,
      isWalError(cause) ? { ...cause.details } : {},
    );
    this.host.poisoned(this.poison);
  }

  /**
   * What an append gets while a rollback runs: nothing may be appended until it has cut the
   * log. `details.lostFromLsn`: the cut goes at or below it, so a caller that acknowledged a
   * record from there on knows now that it is lost.
   */
  rollingBackError(): WalError {
    return new WalError(
      WalErrorCode.NO_SPACE,
      'the disk is full: the log is rolling back a write that failed for lack of space; free space and retry',
      {
        cause: this.rollbackError,
        ...(this.point === null ? {} : { details: { lostFromLsn: this.point.lostFrom } }),
      },
    );
  }

  /** The loss a rollback caused if nobody was waiting to hear about it (reported once). */
  takeUnreportedLoss(): WalError | null {
    const err = this.unreportedLoss;
    this.unreportedLoss = null;
    return err;
  }

  /**
   * The disk is full. Once every write in flight has settled, the first write that did not
   * complete (or the segment whose creation failed) marks the cut: every record from there
   * on is thrown away (none was acknowledged), the file is cut back to the last fully
   * written frame, and appending continues at that LSN once space is free. Failures that
   * arrive while this runs are folded into the same cut.
   */
  startRollback(seg: Segment, offset: number, lostFrom: bigint, cause: unknown): void {
    if (this.poison !== null) return;
    if (this.point === null || lostFrom < this.point.lostFrom) {
      this.point = { seg, offset, lostFrom };
    }
    if (this.rollback !== null) return;
    this.rollbackError = new WalError(
      WalErrorCode.NO_SPACE,
      'the disk is full: a write failed and the log is rolling back the records it held; free space, then append them again',
      { cause },
    );
    this.counters.rollbacks++;
    const run: Promise<void> = this.rollBack(cause).finally(() => this.endRollback(run));
    this.rollback = run;
  }

  /** The rollback `run` is over: appends are accepted again (once; a later rollback is left alone). */
  private endRollback(run: Promise<void>): void {
    if (this.rollback !== run) return;
    this.rollback = null;
    this.point = null;
    this.host.rolledBack();
  }

  private async rollBack(cause: unknown): Promise<void> {
    this.host.stopWriting();
    await this.host.settled();
    if (this.poison !== null) return;
    const firstBad = this.host.firstUnwritten();
    let point = this.point!;
    if (firstBad !== undefined && firstBad.firstLsn < point.lostFrom) {
      point = { seg: firstBad.seg, offset: firstBad.dataStart, lostFrom: firstBad.firstLsn };
    }
    const from = point.lostFrom;
    const lostTo = this.host.lastAssigned();
    const what =
      from > lostTo
        ? 'a new segment could not be made ready (no record was lost)'
        : `records ${from}..${lostTo} could not be written and were rolled back (none was acknowledged)`;
    const err = new WalError(
      WalErrorCode.NO_SPACE,
      `the disk is full: ${what}; free space, then append ${from > lostTo ? 'again' : 'them again'}${preallocationAdvice(cause)}`,
      {
        cause,
        details: {
          segment: point.seg.path,
          offset: point.offset,
          lostFromLsn: from,
          lostToLsn: lostTo,
        },
      },
    );
    this.rollbackError = err;
    try {
      await this.host.cut(point);
    } catch (cutErr) {
      this.poisonWith(cutErr);
      return;
    }
    // Over before anyone hears of the loss: an append retried the moment its rejection
    // arrives must find the log accepting appends, not still rolling back.
    this.endRollback(this.rollback!);
    if (from > lostTo) return;
    this.rollbackListeners.emit(from - 1n, err);
    if (!this.host.rejectFrom(from, err)) this.unreportedLoss = err;
  }
}

/** A segment preallocated whole needs its whole size free, however small the records. */
function preallocationAdvice(cause: unknown): string {
  if (!isWalError(cause) || cause.details.syscall !== 'fallocate') return '';
  return ' (preallocating a segment needs its whole size free: a smaller segmentSize, or no preallocate, needs less)';
}

/** Records appended before close that no write got to the file: they are not in the log. */
export function unwrittenAtClose(from: bigint, to: bigint, cause: WalError | null): WalError {
  const why = cause === null ? '' : ` (${cause.message})`;
  return new WalError(
    cause?.code === WalErrorCode.NO_SPACE ? WalErrorCode.NO_SPACE : WalErrorCode.IO,
    `records ${from}..${to}, appended before close, could not be written${why}: they are not in the log`,
    { cause: cause ?? undefined, details: { lostFromLsn: from, lostToLsn: to } },
  );
}
