import { WalError, WalErrorCode } from '@walnut/wal';
import { MESSAGE_OVERHEAD } from './message.js';

/** A server's max_payload when it announced none. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** The largest message a connection to servers of `maxPayload` may publish, less room for JetStream's headers. */
export function maxMessageBytes(maxPayload: number | undefined): number {
  return (maxPayload ?? DEFAULT_MAX_PAYLOAD) - 512;
}

/**
 * The largest record (payload + meta), or batch, a primary takes: one stream message must
 * hold it beside JetStream's headers, the message header and the codec's framing (a
 * follower appends a whole message as one batch).
 */
export function recordSizeCap(maxPayload: number | undefined): number {
  return maxMessageBytes(maxPayload) - MESSAGE_OVERHEAD - 64;
}

/**
 * WAL_RECORD_TOO_LARGE naming the fix that can work: a `wal.maxRecordSize` below the cap
 * can be raised, the cap itself only by the servers' max_payload. Checked by the primary
 * rather than left to the local Wal, whose limit on a promoted follower is a whole message.
 */
export function recordTooLarge(
  what: string,
  bytes: number,
  limit: number,
  cap: number,
  of = '',
): WalError {
  return new WalError(
    WalErrorCode.RECORD_TOO_LARGE,
    `${what} ${bytes} bytes${of}, over the limit of ${limit} bytes; split it, ${
      limit < cap
        ? `or raise wal.maxRecordSize (up to ${cap}: one stream message must hold it)`
        : "or raise max_payload in the NATS servers' config (one stream message must hold it)"
    }`,
    { details: { size: bytes, limit } },
  );
}
