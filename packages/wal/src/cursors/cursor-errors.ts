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

/**
 * `commit(lsn)` refused: its next record (`lsn + 1`) was deleted. The cursor stays where it
 * was (`committed`); nothing was lost by the refusal itself.
 */
export function commitBelowFloorError(
  name: string,
  lsn: bigint,
  committed: bigint,
  firstKept: bigint,
): WalError {
  return new WalError(
    WalErrorCode.CURSOR_BEHIND,
    `cursor "${name}": commit(${lsn}n) refused, because the log now starts at LSN ${firstKept} (records up to ${firstKept - 1n} were deleted by retention or truncateBefore), so reading on from LSN ${lsn + 1n} is no longer possible. The cursor stays at LSN ${committed}. Commit an LSN ≥ ${firstKept - 1n}n`,
    { details: { cursor: name, lsn: firstKept, committedLsn: committed, refusedLsn: lsn } },
  );
}

/**
 * The cursor is past a suffix cut (truncateAfter after `afterLsn`) made since its position
 * was committed: what it would read next may belong to another history.
 */
export function cursorPastCutError(name: string, committed: bigint, afterLsn: bigint): WalError {
  return new WalError(
    WalErrorCode.TRUNCATED,
    `cursor "${name}" last committed LSN ${committed}, but the log was cut after LSN ${afterLsn} (truncateAfter) since then: records after ${afterLsn} may belong to another history. Decide what its consumer applied past ${afterLsn} means, then commit(${afterLsn}n) (or lower) to read on from there`,
    { details: { cursor: name, lsn: afterLsn, committedLsn: committed } },
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
  return WalError.closed(`cursor "${name}"`, `open it again with wal.cursor("${name}")`, {
    details: { cursor: name },
  });
}
