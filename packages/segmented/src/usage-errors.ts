import { badArgument, MAX_LSN, WalError, WalErrorCode } from '@walnut/codec';

export function closedError(): WalError {
  return WalError.closed('the log', 'open it again to use it');
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
      `cannot replay from LSN ${lsn}: records below ${floorLsn} were truncated (truncateBefore); replay from ${floorLsn} or later`,
      { details: { lsn, floorLsn } },
    );
  }
}
