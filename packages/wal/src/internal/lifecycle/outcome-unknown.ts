import { WalError, WalErrorCode } from '@walnut/codec';

/**
 * The rejection of an append whose bytes may be in the log: they went to the operating
 * system (or had to, so that no LSN after them is missing) before the log closed or was
 * poisoned, and were never made durable. The caller looks for `lsn` before appending again.
 */
export function outcomeUnknown(lsn: bigint, what: string, cause?: unknown): WalError {
  return new WalError(
    WalErrorCode.OUTCOME_UNKNOWN,
    `${what} after the append of LSN ${lsn} had been handed to the operating system but before it was acknowledged: it may or may not be in the log. After reopening, read LSN ${lsn} (the log holds this record there, or ends before it) before appending it again`,
    cause === undefined ? { details: { lsn } } : { cause, details: { lsn } },
  );
}
