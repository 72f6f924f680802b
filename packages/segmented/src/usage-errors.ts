import { badArgument, MAX_LSN, WalError, WalErrorCode } from '@walnut/codec';

export function closedError(): WalError {
  return WalError.closed('the log', 'open it again to use it');
}

/** For a flush or sync that waited for records `dropUnsubmittedAbove` dropped from `from` on. */
export function droppedError(from: bigint): WalError {
  return new WalError(
    WalErrorCode.CLOSED,
    `the records from LSN ${from} on were dropped before they were written (dropUnsubmittedAbove, as the log closes): no flush or sync can cover them; append them again to a log that is open`,
    { details: { lsn: from } },
  );
}

export function readOnlyError(what: string): WalError {
  return new WalError(
    WalErrorCode.READ_ONLY,
    `${what} is not allowed: the log was opened read-only; open it without readOnly to write`,
  );
}

export function checkLsnArgument(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_LSN) {
    badArgument(name, 'a bigint LSN from 0n to 2^64-1', value);
  }
}

/** A batch given a `firstLsn` that is not the log's next LSN. */
export function lsnMismatch(firstLsn: unknown, nextLsn: bigint): never {
  checkLsnArgument('firstLsn', firstLsn);
  throw new WalError(
    WalErrorCode.LSN_MISMATCH,
    `the batch was to start at LSN ${firstLsn}, but the log's next LSN is ${nextLsn}; append the records in between first (or from ${nextLsn} on)`,
    { details: { expected: firstLsn, nextLsn } },
  );
}

export function checkNotBelowFloor(lsn: bigint, floorLsn: bigint): void {
  if (lsn < floorLsn) {
    throw new WalError(
      WalErrorCode.REPLAY_BELOW_FLOOR,
      `cannot replay from LSN ${lsn}: records below ${floorLsn} were deleted (truncateBefore or retention); replay from ${floorLsn} or later`,
      { details: { lsn, floorLsn } },
    );
  }
}

/** An append that would need an LSN beyond 2^64-1, the last one the format holds. */
export function lsnsUsedUp(what: 'record' | 'records' | 'batch'): WalError {
  return new WalError(
    WalErrorCode.BAD_STATE,
    what === 'record'
      ? 'the log has used every LSN up to 2^64-1'
      : `the ${what} would use LSNs beyond 2^64-1`,
  );
}

export function batchTooLarge(bytes: number, limit: number): WalError {
  return new WalError(
    WalErrorCode.RECORD_TOO_LARGE,
    `the batch holds ${bytes} bytes of payload and meta, over maxRecordSize ${limit}; split it or raise maxRecordSize`,
    { details: { size: bytes, limit } },
  );
}

/** `setEncryptionRing` after records went into the active segment starting at `firstLsn`. */
export function ringTooLate(firstLsn: bigint): WalError {
  return new WalError(
    WalErrorCode.BAD_STATE,
    `setEncryptionRing must come before the first append into the active segment, which already holds records from LSN ${firstLsn}; set it right after open()`,
  );
}

export function refreshOnWriter(): WalError {
  return new WalError(
    WalErrorCode.BAD_STATE,
    'refresh() is for read-only openers: a writer knows its own log',
  );
}
