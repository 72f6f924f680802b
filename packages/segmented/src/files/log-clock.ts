import { randomBytes } from 'node:crypto';
import { ClockReadings, type FileHeader, WalError, WalErrorCode } from '@walnut/codec';

/**
 * The log's time and identity as its writer stamps them into new segments and records
 * (FORMAT.md version 2; docs/decisions/0350): the time never goes backwards within the log,
 * whatever the wall clock does, and every segment carries the id the log was created with.
 */
export class LogClock {
  /** The time of the newest record (or segment) stamped so far: what `now()` never goes below. */
  private last: number;
  /** The wall clock's readings shared among the stamps of one job (decision 0916). */
  private readonly readings: ClockReadings;

  constructor(
    private readonly clock: () => number,
    /** The log's id: the newest version 2 segment's, or a new random one for a log without. */
    readonly logId: bigint,
    seed: number,
  ) {
    this.last = seed;
    this.readings = new ClockReadings(clock);
  }

  /** The log's id and time seed from what recovery found: the newest segment and record. */
  static forLog(
    clock: () => number,
    newest: FileHeader | undefined,
    newestTime: number | undefined,
  ): LogClock {
    const v2 = newest !== undefined && newest.version >= 2;
    const logId = v2 ? newest.logId : newLogId();
    const seed = Math.max(v2 ? newest.createdAtMs : 0, newestTime ?? 0);
    return new LogClock(clock, logId, seed);
  }

  /**
   * The time to stamp now: the wall clock, or the last time stamped if that is later. A clock
   * that throws is WAL_BAD_ARGUMENT: the caller's clock failed, not the log's storage, and
   * nothing was stamped yet (an append asks first, before it changes anything).
   *
   * One reading of `Date.now` serves several appends of one job (`ClockReadings`, decision
   * 0916); any other clock is read every time.
   */
  now(): number {
    let t: number;
    try {
      t = this.readings.read();
    } catch (error) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `the log's clock (options.clock) threw (${error instanceof Error ? error.message : String(error)}); it must return ms since the epoch, as Date.now does. Nothing was appended`,
        { cause: error },
      );
    }
    return this.advance(t);
  }

  /**
   * `now()` for a step that must not stop half-way (a rollover under way, after the append
   * that started it asked `now()`): a clock that throws leaves the time where it is.
   */
  nowOrLast(): number {
    let t = Number.NaN;
    try {
      t = this.clock();
    } catch {
      // Reported to the append that asked now() first; here the time only stays.
    }
    return this.advance(t);
  }

  private advance(t: number): number {
    // A NaN, an infinity or a step back leaves the time where it is.
    if (t > this.last && t <= Number.MAX_SAFE_INTEGER) this.last = Math.floor(t);
    return this.last;
  }
}

/** A random non-zero u64. */
function newLogId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64LE(0);
    if (id !== 0n) return id;
  }
}
