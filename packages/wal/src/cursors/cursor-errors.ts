import { WalError, WalErrorCode } from '@walnut/codec';

/** The cursor's next record (`committed + 1`) is below the first LSN still kept. */
export function cursorBehindError(
  name: string,
  committed: bigint,
  firstKept: bigint,
  cause?: unknown,
): WalError {
  return new WalError(
    WalErrorCode.CURSOR_BEHIND,
    `cursor "${name}" last committed LSN ${committed}, but the log now starts at LSN ${firstKept}: records ${committed + 1n} to ${firstKept - 1n} were deleted (retention, after the cursor lagged more than maxCursorLagBytes, or truncateBefore) before its consumer read them. Recover them from an archive (retention's beforeDelete), then commit(${firstKept - 1n}n) to go on from LSN ${firstKept}, or deleteCursor("${name}") and start again`,
    { cause, details: { cursor: name, lsn: firstKept, committedLsn: committed } },
  );
}

/** The cursor is past the log's end: the log was cut below it (truncateAfter). */
export function cursorPastEndError(name: string, committed: bigint, lastLsn: bigint): WalError {
  return new WalError(
    WalErrorCode.TRUNCATED,
    `cursor "${name}" last committed LSN ${committed}, but the log ends at LSN ${lastLsn}: it was cut below the cursor (truncateAfter), and records appended from now on belong to another history. Decide what the records its consumer applied past ${lastLsn} mean, then commit(${lastLsn}n) to go on`,
    { details: { cursor: name, lsn: lastLsn, committedLsn: committed } },
  );
}

/** Another holder has the cursor open. */
export function cursorInUseError(name: string, cause: unknown): WalError {
  return new WalError(
    WalErrorCode.CURSOR_IN_USE,
    `cursor "${name}" is open elsewhere (another process, or another Wal of this log in this process): one holder at a time commits a cursor. Close it there (cursor.close() or closing that Wal), or use another name`,
    { cause, details: { cursor: name } },
  );
}

/** The cursor was closed (by `close()`, `deleteCursor` or its Wal closing). */
export function cursorClosedError(name: string): WalError {
  return new WalError(
    WalErrorCode.CLOSED,
    `cursor "${name}" is closed; open it again with wal.cursor("${name}")`,
    { details: { cursor: name } },
  );
}
