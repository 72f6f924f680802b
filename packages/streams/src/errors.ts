import { WalError, WalErrorCode } from '@walnut/wal';

type WalErrorDetails = WalError['details'];

/**
 * The codes of the errors a caller of `@walnut/streams` can cause, beside the log's own
 * (WAL_BAD_ARGUMENT, WAL_CLOSED, WAL_RECORD_TOO_LARGE, …). They are members of `WalErrorCode`
 * (decision 0714, which supersedes 0711); this table names the streams' share of it, which
 * `isStreamError` narrows to. Like every code, each never changes meaning.
 */
export const StreamErrorCode = {
  /** No stream of that name exists (never created, or deleted). */
  NOT_FOUND: WalErrorCode.STREAM_NOT_FOUND,
  /** The stream's expiry time has passed: it reads as absent. */
  EXPIRED: WalErrorCode.STREAM_EXPIRED,
  /** A name or producer id breaks the rules (README, "Names"). */
  BAD_NAME: WalErrorCode.STREAM_BAD_NAME,
  /** `create` named an existing stream with another configuration. */
  CONFLICT: WalErrorCode.STREAM_CONFLICT,
  /** The stream was closed: it takes no more appends. */
  CLOSED: WalErrorCode.STREAM_CLOSED,
  /** The producer's epoch is older than the stream's: a newer instance of it took over. */
  PRODUCER_FENCED: WalErrorCode.STREAM_PRODUCER_FENCED,
  /** The producer's seq is not the next one (`details.expectedSeq`). */
  SEQUENCE_GAP: WalErrorCode.STREAM_SEQUENCE_GAP,
  /** A retry of an append too old for the stream to remember its result. */
  DUPLICATE_TOO_OLD: WalErrorCode.STREAM_DUPLICATE_TOO_OLD,
  /** A conditional append's expected tail offset is not the stream's (`details.tail`). */
  OFFSET_MISMATCH: WalErrorCode.STREAM_OFFSET_MISMATCH,
  /** An offset that is not a stream offset (a non-negative integer or its string form). */
  BAD_OFFSET: WalErrorCode.STREAM_BAD_OFFSET,
  /** An append whose payloads together exceed what one log record holds. */
  PAYLOAD_TOO_LARGE: WalErrorCode.STREAM_PAYLOAD_TOO_LARGE,
  /** A write to the log failed: what reached it is known only after reopening. */
  BROKEN: WalErrorCode.STREAM_BROKEN,
  /** An append's `streamSeq` does not sort above the stream's last (`details.lastStreamSeq`). */
  SEQ_CONFLICT: WalErrorCode.STREAM_SEQ_CONFLICT,
} as const;

export type StreamErrorCode = (typeof StreamErrorCode)[keyof typeof StreamErrorCode];

/** A `WalError` whose code is one of `StreamErrorCode`. */
export type StreamError = WalError & { readonly code: StreamErrorCode };

export function streamError(
  code: StreamErrorCode,
  message: string,
  details: WalErrorDetails = {},
  cause?: unknown,
): StreamError {
  return new WalError(code, message, { details, cause }) as StreamError;
}

export function isStreamError(value: unknown, code?: StreamErrorCode): value is StreamError {
  return (
    value instanceof WalError &&
    (Object.values(StreamErrorCode) as string[]).includes(value.code) &&
    (code === undefined || value.code === code)
  );
}

export function notFound(name: string) {
  return streamError(
    StreamErrorCode.NOT_FOUND,
    `no stream "${name}": create it first (a deleted stream is gone for good)`,
    { stream: name },
  );
}

export function expired(name: string, expiresAt: number) {
  return streamError(
    StreamErrorCode.EXPIRED,
    `stream "${name}" expired at ${new Date(expiresAt).toISOString()} and reads as absent; create it again to start anew`,
    { stream: name, expiresAt },
  );
}
