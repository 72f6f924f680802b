import { isWalError, WalError, WalErrorCode, type WalRecord } from '@walnut/codec';

/** No cut since: every LSN is still of the same history. */
const NONE = 2n ** 64n;

/**
 * The suffix cuts this process made, so that a reader started before one never hands out a
 * record of the history after it: every record above the lowest cut made since the reader
 * started is refused with WAL_TRUNCATED (records up to a cut are the same in both).
 */
export class SuffixCuts {
  /** Each cut's `afterLsn`, in the order they were made; the count is the generation. */
  private readonly cuts: bigint[] = [];

  get generation(): number {
    return this.cuts.length;
  }

  record(afterLsn: bigint): void {
    this.cuts.push(afterLsn);
  }

  /** The lowest LSN cut after since generation `since`, or 2^64 when there was no cut. */
  keptSince(since: number): bigint {
    let kept = NONE;
    for (let i = since; i < this.cuts.length; i++) if (this.cuts[i]! < kept) kept = this.cuts[i]!;
    return kept;
  }

  /** WAL_TRUNCATED if a cut since `since` removed `lsn`. */
  check(lsn: bigint, since: number): void {
    if (since === this.cuts.length) return;
    const kept = this.keptSince(since);
    if (lsn > kept) throw truncatedError(kept, lsn);
  }

  /** `records`, refused from the first one a later cut removed (a failure after a cut is the cut's doing). */
  async *guard(records: AsyncIterable<WalRecord>, since: number): AsyncGenerator<WalRecord> {
    try {
      for await (const r of records) {
        this.check(r.lsn, since);
        yield r;
      }
    } catch (err) {
      if (since === this.cuts.length || isWalError(err, WalErrorCode.TRUNCATED)) throw err;
      throw truncatedError(this.keptSince(since), null, err);
    }
  }
}

/** The error of a reader positioned past a cut after `afterLsn`. */
export function truncatedError(afterLsn: bigint, lsn: bigint | null, cause?: unknown): WalError {
  const at = lsn === null ? '' : ` (it was to hand out LSN ${lsn})`;
  return new WalError(
    WalErrorCode.TRUNCATED,
    `the log was cut after LSN ${afterLsn} (truncateAfter) while this reader read past it${at}: the records after it may now be another history. Read again from LSN ${afterLsn + 1n} with a new reader`,
    { details: { lsn: afterLsn }, ...(cause === undefined ? {} : { cause }) },
  );
}
