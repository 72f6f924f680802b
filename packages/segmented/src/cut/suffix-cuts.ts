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
  /** Generations whose `afterLsn` is only a bound: the lowest cut a reader missed was not known. */
  private readonly bounds = new Set<number>();

  /**
   * A read-only opener's check after each read between its looks: records a cut another
   * process made since the view was founded (ReaderRefresh.cutSinceView), so that the read
   * is judged by it. Null for a writer, whose own cuts are recorded as they are made.
   */
  afterRead: (() => Promise<void>) | null = null;

  get generation(): number {
    return this.cuts.length;
  }

  /**
   * A cut after `afterLsn`; `known` false when `afterLsn` is only a bound below the cut (a
   * reader in another process that missed more cuts than the CUT file remembers).
   */
  record(afterLsn: bigint, known = true): void {
    if (!known) this.bounds.add(this.cuts.length);
    this.cuts.push(afterLsn);
  }

  /** WAL_TRUNCATED for a reader started at generation `since` (it was to hand out `lsn`). */
  truncated(since: number, lsn: bigint | null, cause?: unknown): WalError {
    let kept = NONE;
    let known = true;
    for (let i = since; i < this.cuts.length; i++) {
      if (this.cuts[i]! < kept) {
        kept = this.cuts[i]!;
        known = !this.bounds.has(i);
      }
    }
    return truncatedError(kept, lsn, cause, known);
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
    if (lsn > kept) throw this.truncated(since, lsn);
  }

  /**
   * The page `read()` reads, refused as `guard` refuses a replay: WAL_TRUNCATED for a failure
   * after a cut, or for a page whose last record a cut made while it was read removed.
   */
  async guardPage<T extends { records: WalRecord[] }>(read: () => Promise<T>): Promise<T> {
    const since = this.generation;
    const page = await read().catch(async (err: unknown) => {
      await this.afterRead?.().catch(() => undefined);
      if (since === this.generation) throw err;
      throw this.truncated(since, null, err);
    });
    await this.afterRead?.();
    const last = page.records[page.records.length - 1];
    if (last !== undefined) this.check(last.lsn, since);
    return page;
  }

  /**
   * The records of a fresh `open()` per iteration, refused from the first one a cut made
   * since generation `since` removed (a failure after a cut is the cut's doing).
   */
  guard(open: () => RecordSource, since: number): AsyncIterable<WalRecord> {
    return { [Symbol.asyncIterator]: () => new GuardedRecords(this, open(), since) };
  }
}

/** What a guard reads from: records at hand without a promise, the rest through `next()`. */
export interface RecordSource {
  nextAtHand(): WalRecord | null;
  next(): Promise<IteratorResult<WalRecord>>;
  return(): Promise<IteratorResult<WalRecord>>;
}

/**
 * A replay that hands out no record a later cut removed. A record at hand is judged when it
 * is handed out, so no cut can come in between; one that needed I/O is judged when the I/O is
 * done. Without a cut since the start that judgement is one comparison, and a record at hand
 * costs one promise, as it does unguarded.
 */
class GuardedRecords implements AsyncIterableIterator<WalRecord> {
  private done = false;

  constructor(
    private readonly cuts: SuffixCuts,
    private readonly records: RecordSource,
    private readonly since: number,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<WalRecord>> {
    if (this.done) return Promise.resolve(DONE);
    let record: WalRecord | null;
    try {
      record = this.records.nextAtHand();
    } catch (error) {
      return this.fail(error);
    }
    if (record !== null) return this.handOut(record);
    return this.records.next().then(
      async (step) => {
        // Read from a file: judged after a look at the CUT file (a read-only opener).
        await this.cuts.afterRead?.();
        return step.done === true ? this.end() : this.handOut(step.value);
      },
      async (error: unknown) => {
        await this.cuts.afterRead?.().catch(() => undefined);
        return this.fail(error);
      },
    );
  }

  return(): Promise<IteratorResult<WalRecord>> {
    return this.end();
  }

  private handOut(record: WalRecord): Promise<IteratorResult<WalRecord>> {
    const { cuts, since } = this;
    if (since !== cuts.generation) {
      const kept = cuts.keptSince(since);
      if (record.lsn > kept) return this.fail(cuts.truncated(since, record.lsn));
    }
    return Promise.resolve({ done: false, value: record });
  }

  private async end(): Promise<IteratorResult<WalRecord>> {
    if (!this.done) {
      this.done = true;
      await this.records.return();
    }
    return DONE;
  }

  private async fail(error: unknown): Promise<never> {
    await this.end().catch(() => undefined);
    const { cuts, since } = this;
    if (since === cuts.generation || isWalError(error, WalErrorCode.TRUNCATED)) throw error;
    throw cuts.truncated(since, null, error);
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The error of a reader positioned past a cut after `afterLsn`; `known` false when the lowest
 * cut is not known and `afterLsn` is only the highest LSN no cut can have reached.
 */
export function truncatedError(
  afterLsn: bigint,
  lsn: bigint | null,
  cause?: unknown,
  known = true,
): WalError {
  const at = lsn === null ? '' : ` (it was to hand out LSN ${lsn})`;
  const what = known
    ? `the log was cut after LSN ${afterLsn} (truncateAfter) while this reader read past it${at}: the records after it may now be another history`
    : `the log was cut (truncateAfter) more times while this reader read than its CUT file remembers${at}, so the lowest cut is not known: every record after LSN ${afterLsn} may now be another history`;
  return new WalError(
    WalErrorCode.TRUNCATED,
    `${what}. Read again from LSN ${afterLsn + 1n} with a new reader`,
    { details: { lsn: afterLsn }, ...(cause === undefined ? {} : { cause }) },
  );
}
