import { describeValue, isBytes, isWalError, WalError, WalErrorCode } from '@walnut/codec';

// The errors a Wal refuses a call with, each saying what to do instead.

export function closedError(): WalError {
  return WalError.closed('the log', 'open it again to continue', {
    why: 'anything pending at close was never acknowledged',
  });
}

export function closingError(): WalError {
  return new WalError(
    WalErrorCode.CLOSING,
    'the log is shutting down and takes no new appends; open it again after shutdown()',
  );
}

/** An error of a call the engine refused before it changed anything (no reason to poison). */
export function isUsageError(error: unknown): boolean {
  return (
    isWalError(error, WalErrorCode.BAD_ARGUMENT) ||
    isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR) ||
    isWalError(error, WalErrorCode.BAD_STATE) ||
    isWalError(error, WalErrorCode.CLOSED)
  );
}

/** A tail whose next record a truncation deleted while it read: it reads on from the floor. */
export function tailBelowFloorError(next: bigint, floorLsn: bigint, cause: unknown): WalError {
  return new WalError(
    WalErrorCode.REPLAY_BELOW_FLOOR,
    `the records from LSN ${next} were deleted while this tail read them (truncateBefore or retention): the log now starts at LSN ${floorLsn}; tail from details.floorLsn to read on, knowing the records in between are gone`,
    { cause, details: { lsn: next, floorLsn } },
  );
}

/** An append while truncateAfter runs: the caller appends again once the cut resolved. */
export function cuttingError(): WalError {
  return new WalError(
    WalErrorCode.BAD_STATE,
    'appends are refused while truncateAfter runs; await it, then append again (the next LSN is the one after the cut)',
  );
}

export function notOpenError(): WalError {
  return new WalError(WalErrorCode.BAD_STATE, 'the log is not open yet; await build() first');
}

/** Every call after the failure that poisoned the log (`poison`). */
export function poisonedError(poison: WalError | undefined): WalError {
  return WalError.poisoned(
    `a write or fdatasync failed earlier (${poison?.message ?? 'unknown'}), so what reached the disk is unknown; close the log and open it again`,
    poison,
    { retryable: false },
  );
}

/**
 * `error` with `details.retryable`: whether the same append may succeed if made again on
 * this log (a full disk once space is free) or never can (a poisoned log).
 */
export function withRetryable(error: WalError, retryable: boolean): WalError {
  if (error.details.retryable === retryable) return error;
  return new WalError(error.code, error.message, {
    cause: error.cause,
    details: { ...error.details, retryable },
  });
}

export function readOnlyError(what: string): WalError {
  return new WalError(
    WalErrorCode.READ_ONLY,
    `${what} is not allowed: this Wal was opened with readOnly() to read beside a writer; write through the writer, or open the log without readOnly once it has closed`,
  );
}

/** `payload` or `meta` is not bytes: names which, what it was, and how to turn text into bytes. */
export function badPayloadError(method: string, payload: unknown, meta: unknown): WalError {
  const [name, got] = isBytes(payload) ? ['meta', meta] : ['payload', payload];
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `${method}(payload, meta?) takes a Buffer/Uint8Array payload and an optional Buffer/Uint8Array meta; ${name} was ${describeValue(got)}${textAdvice(got)}`,
  );
}

/** For a string where bytes belong: the log stores bytes, so text is encoded first. */
export function textAdvice(got: unknown): string {
  return typeof got === 'string' ? ' (encode text first, e.g. Buffer.from(text))' : '';
}
