import { jsonSafe } from '../values/json.js';

/**
 * Every error Walnut raises for something a caller can cause or must handle is a
 * `WalError`. The `code` is part of the public API: it never changes meaning, so
 * callers may switch on it. The message says what happened and what to do.
 */
export const WalErrorCode = {
  /** An argument or config field has the wrong type or range. */
  BAD_ARGUMENT: 'WAL_BAD_ARGUMENT',
  /** A record, meta or batch is larger than `maxRecordSize` (or the format limit). */
  RECORD_TOO_LARGE: 'WAL_RECORD_TOO_LARGE',
  /** Damage followed by valid data (mid-log corruption), or a structurally invalid file. */
  CORRUPT: 'WAL_CORRUPT',
  /** A segment between the first and the last is missing. */
  MISSING_SEGMENT: 'WAL_MISSING_SEGMENT',
  /** A file was written by a format version this build does not know. */
  UNSUPPORTED_FORMAT: 'WAL_UNSUPPORTED_FORMAT',
  /** An fsync/fdatasync failed earlier; the log refuses to report success until reopened. */
  POISONED: 'WAL_POISONED',
  /** The disk is full (ENOSPC/EDQUOT); the log is consistent and works once space is freed. */
  NO_SPACE: 'WAL_NO_SPACE',
  /** Any other I/O failure; `errno` and `syscall` say which. */
  IO: 'WAL_IO',
  /** Another writer (another process, or another opener in this one) holds the log directory's lock. */
  LOCKED: 'WAL_LOCKED',
  /**
   * No lock that excludes other processes can be had here (no native flock, and no way to
   * prove a lock file's owner gone), so the log is not opened for writing.
   */
  LOCK_UNAVAILABLE: 'WAL_LOCK_UNAVAILABLE',
  /** The operation is not allowed in the current state. */
  BAD_STATE: 'WAL_BAD_STATE',
  /**
   * The log (or I/O instance) is closed. An append rejected with it is never in the log: it
   * may be appended again without creating a duplicate.
   */
  CLOSED: 'WAL_CLOSED',
  /**
   * An append failed after its bytes were handed to the operating system (the log closed or
   * was poisoned before they were made durable): it may or may not be in the log. `details.lsn`
   * is the LSN it would have resolved with (a batch's last); after reopening, the log holds
   * that record at that LSN, or it ends before it. Look before appending it again.
   */
  OUTCOME_UNKNOWN: 'WAL_OUTCOME_UNKNOWN',
  /** The log is shutting down and takes no new work. */
  CLOSING: 'WAL_CLOSING',
  /** A shutdown or wait exceeded its deadline. */
  TIMEOUT: 'WAL_TIMEOUT',
  /** The append queue is full and `backpressure: 'error'` was chosen. */
  BACKPRESSURE: 'WAL_BACKPRESSURE',
  /**
   * The directory is not a log of the kind being opened: it holds other files and no log, a
   * log of another kind (a per-core log opened as a segmented one, or the reverse), or the
   * path is not a directory at all. Nothing was written to it.
   */
  NOT_A_LOG: 'WAL_NOT_A_LOG',
  /**
   * A read-only opener found no log directory at the path (a reader never creates one):
   * most often its writer has not run yet. Open again once the writer has created it.
   */
  NOT_FOUND: 'WAL_NOT_FOUND',
  /** The log was opened read-only. */
  READ_ONLY: 'WAL_READ_ONLY',
  /** Replay was asked to start below the retained floor (those records were truncated). */
  REPLAY_BELOW_FLOOR: 'WAL_REPLAY_BELOW_FLOOR',
  /**
   * `truncateAfter` cut the log after `details.lsn` while this reader, tail or iterator was
   * positioned past it: what it would hand out next may belong to another history. Open a
   * new reader from `details.lsn + 1` (after deciding what to do with what it had read).
   */
  TRUNCATED: 'WAL_TRUNCATED',
  /** An encrypted segment names a key id the key ring does not hold. */
  KEY_MISSING: 'WAL_KEY_MISSING',
  /** Authentication failed: wrong key, or the ciphertext was tampered with. */
  DECRYPT_FAILED: 'WAL_DECRYPT_FAILED',
  /** A requested backend (e.g. io_uring) cannot be used on this machine. */
  BACKEND_UNAVAILABLE: 'WAL_BACKEND_UNAVAILABLE',
  /** An append asked for a first LSN other than the log's next one (followers append at the primary's LSNs). */
  LSN_MISMATCH: 'WAL_LSN_MISMATCH',
  /** A newer primary took over the replicated log: this one never acknowledges again. */
  FENCED: 'WAL_FENCED',
  /** The record is durable locally, but the cluster did not acknowledge it in time. */
  NOT_REPLICATED: 'WAL_NOT_REPLICATED',
  /** A replica's log and the replicated stream disagree (a gap, other bytes, or a record the stream never had). */
  DIVERGED: 'WAL_DIVERGED',
  /**
   * A durable cursor's next record is gone (retention deleted it while the cursor lagged past
   * its cap): `details.lsn` is the first LSN still kept. Never an empty, "caught up" read.
   */
  CURSOR_BEHIND: 'WAL_CURSOR_BEHIND',
  /** Another holder (another process, or another Wal in this one) has this durable cursor open. */
  CURSOR_IN_USE: 'WAL_CURSOR_IN_USE',
  // The codes of `@walnut/streams` (named streams in one log): kept in this one table so that
  // `WalError.code` covers them without a cast (decision 0714).
  /** No stream of that name exists (never created, or deleted): create it, or check the name. */
  STREAM_NOT_FOUND: 'WAL_STREAM_NOT_FOUND',
  /** The stream's expiry time has passed: it reads as absent. Create it anew to use the name. */
  STREAM_EXPIRED: 'WAL_STREAM_EXPIRED',
  /** A stream name or producer id breaks the rules (1 to 1024 UTF-8 bytes, no control characters). */
  STREAM_BAD_NAME: 'WAL_STREAM_BAD_NAME',
  /** `create` named an existing stream with another configuration: use its own, or another name. */
  STREAM_CONFLICT: 'WAL_STREAM_CONFLICT',
  /** The stream was closed: it takes no more appends; its records can still be read. */
  STREAM_CLOSED: 'WAL_STREAM_CLOSED',
  /**
   * The producer's epoch is older than the stream's (`details.currentEpoch`): a newer instance
   * of it took over. This one must stop appending.
   */
  STREAM_PRODUCER_FENCED: 'WAL_STREAM_PRODUCER_FENCED',
  /** The producer's seq is not the next one: resend from `details.expectedSeq`. Nothing was written. */
  STREAM_SEQUENCE_GAP: 'WAL_STREAM_SEQUENCE_GAP',
  /**
   * A retry of an append too old for the stream to remember its result: read the stream to
   * learn whether it is there. Nothing was written.
   */
  STREAM_DUPLICATE_TOO_OLD: 'WAL_STREAM_DUPLICATE_TOO_OLD',
  /**
   * A conditional append's expected tail offset is not the stream's (`details.tail`): read
   * what was appended since, then decide. Nothing was written.
   */
  STREAM_OFFSET_MISMATCH: 'WAL_STREAM_OFFSET_MISMATCH',
  /** Not a stream offset: pass a non-negative integer (or its string form) at most the tail. */
  STREAM_BAD_OFFSET: 'WAL_STREAM_BAD_OFFSET',
  /** An append whose payloads together exceed what one log record holds: split it. */
  STREAM_PAYLOAD_TOO_LARGE: 'WAL_STREAM_PAYLOAD_TOO_LARGE',
  /**
   * An append's `streamSeq` does not sort above the stream's last one
   * (`details.lastStreamSeq`): send an increasing one. Nothing was written.
   */
  STREAM_SEQ_CONFLICT: 'WAL_STREAM_SEQ_CONFLICT',
  /**
   * A write to the streams' log failed: what reached it is known only after reopening the
   * streams, which rebuilds them from what the log holds.
   */
  STREAM_BROKEN: 'WAL_STREAM_BROKEN',
} as const;

export type WalErrorCode = (typeof WalErrorCode)[keyof typeof WalErrorCode];

/** Where in the log an error was found, when it is about a place on disk. */
export interface WalErrorDetails {
  /** Path of the segment or file concerned. */
  segment?: string;
  /** Byte offset inside that file. */
  offset?: number;
  /** Positive errno number for I/O errors (e.g. 5 for EIO). */
  errno?: number;
  /** The system call or operation that failed. */
  syscall?: string;
  /**
   * The LSN the error is about, where there is one: the record whose outcome is unknown
   * (WAL_OUTCOME_UNKNOWN), the first kept (WAL_CURSOR_BEHIND), the cut (WAL_TRUNCATED), …
   */
  lsn?: bigint;
  /** The log's floor, for errors about records below it (WAL_REPLAY_BELOW_FLOOR). */
  floorLsn?: bigint;
  /**
   * On a refused append (WAL_NO_SPACE, WAL_POISONED): true when the same append may succeed
   * if made again on this log (once space is free), false when it never can (reopen first).
   */
  retryable?: boolean;
  [key: string]: unknown;
}

export class WalError extends Error {
  override readonly name = 'WalError';
  readonly code: WalErrorCode;
  readonly details: WalErrorDetails;

  constructor(
    code: WalErrorCode,
    message: string,
    options: { cause?: unknown; details?: WalErrorDetails } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /**
   * `WAL_CLOSED` for a call on something closed: `subject` names it ("the log", `cursor "a"`),
   * `why` (in parentheses) says what closing meant for it, `advice` what to do instead.
   */
  static closed(
    subject: string,
    advice?: string,
    options: { why?: string; details?: WalErrorDetails } = {},
  ): WalError {
    const why = options.why === undefined ? '' : ` (${options.why})`;
    return new WalError(
      WalErrorCode.CLOSED,
      `${subject} is closed${why}${advice === undefined ? '' : `; ${advice}`}`,
      options.details === undefined ? {} : { details: options.details },
    );
  }

  /**
   * `WAL_POISONED` for every call after a write or sync failed: what reached the disk is
   * unknown, so the writer takes no more calls until it is reopened. `message` says what
   * failed and how to reopen; `cause` is the failure.
   */
  static poisoned(message: string, cause: unknown, details?: WalErrorDetails): WalError {
    return new WalError(
      WalErrorCode.POISONED,
      message,
      details === undefined ? { cause } : { cause, details },
    );
  }

  /**
   * What `JSON.stringify` writes, as loggers do: the code and message (an Error's message is
   * not an enumerable field) and the details, whose LSNs become decimal strings.
   */
  toJSON(): { name: string; code: WalErrorCode; message: string; details: unknown } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      details: jsonSafe(this.details),
    };
  }
}

// The bundle names this class `_WalError` (it names itself in its body: decision 0005), which
// `err.constructor.name`, loggers and an uncaught error's output would show.
Object.defineProperty(WalError, 'name', { value: 'WalError' });

export function isWalError(value: unknown, code?: WalErrorCode): value is WalError {
  return value instanceof WalError && (code === undefined || value.code === code);
}

/** Throws `WAL_BAD_ARGUMENT` with a message naming the argument and what it must be. */
export function badArgument(name: string, expected: string, got: unknown): never {
  throw new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `${name} must be ${expected}, got ${describeValue(got)}`,
  );
}

/**
 * Throws `WAL_BAD_ARGUMENT` with a message of another shape than `badArgument`'s; like every
 * message, it says what to pass instead.
 */
export function invalidArgument(message: string): never {
  throw new WalError(WalErrorCode.BAD_ARGUMENT, message);
}

/**
 * Throws `WAL_BAD_ARGUMENT` for a frame of `frameBytes` that does not fit `target` at
 * `offset`, before anything is written; `details` carries the three numbers.
 */
export function frameDoesNotFit(frameBytes: number, offset: number, targetBytes: number): never {
  throw new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `a frame of ${frameBytes} bytes at offset ${offset} does not fit a target of ${targetBytes} bytes; pass a larger target or an offset at most ${targetBytes - frameBytes} (the *FrameSize functions say how large a frame is)`,
    { details: { frameBytes, offset, targetBytes } },
  );
}

/** True for the error `frameDoesNotFit` throws. */
export function isFrameDoesNotFit(error: unknown): boolean {
  return (
    isWalError(error, WalErrorCode.BAD_ARGUMENT) && typeof error.details.frameBytes === 'number'
  );
}

/** What a refused argument was, for a message that says what was passed: `"abc"`, `a Set`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined)
    return String(value);
  if (value instanceof Uint8Array && !ArrayBuffer.isView(value))
    return 'an object that passes for a Uint8Array but is not one (a Proxy?)';
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const name = value.constructor?.name ?? typeof value;
  return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
}
