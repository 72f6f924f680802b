/**
 * What an append checks about a frame before it commits it: that recovery will read it
 * back, and that it is exactly the size the append reserved for it.
 */
import { FRAME_HEADER_SIZE, WalError, WalErrorCode } from '@walnut/codec';

/**
 * WAL_RECORD_TOO_LARGE when a frame's body is over `maxFrameBody`, the longest frame
 * recovery and replay accept (maxRecordSize + 1024): a batch of many small records can
 * keep its payload and meta under maxRecordSize and still need more, for its per-record
 * headers. Such a frame, once written, would read back as damage.
 */
export function checkFrameBody(
  frameSize: number,
  maxFrameBody: number,
  maxRecordSize: number,
  what: 'record' | 'batch',
): void {
  const body = frameSize - FRAME_HEADER_SIZE;
  if (body <= maxFrameBody) return;
  throw new WalError(
    WalErrorCode.RECORD_TOO_LARGE,
    `the ${what}'s frame body would be ${body} bytes (payload and meta plus the headers of every record), over the ${maxFrameBody} bytes a reader accepts with maxRecordSize ${maxRecordSize}; ${what === 'batch' ? 'split the batch' : 'split the record'} or raise maxRecordSize`,
    { details: { size: body, limit: maxFrameBody } },
  );
}

function changedWhileAppended(what: 'record' | 'batch'): WalError {
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `the ${what} changed while it was appended (a getter answered differently when read again); append plain objects whose fields hold their values`,
  );
}

export type Encoder<T> = (target: Buffer, offset: number, lsn: bigint, input: T) => number;

/**
 * Encodes `input` at `at`, where `size` bytes were reserved from an earlier read of it.
 * An input that reads differently the second time (its frame would not be `size` bytes,
 * or would not fit) is refused with WAL_BAD_ARGUMENT before the caller commits anything:
 * what the encoder may have written lies past the buffer's used length, which is never
 * written out.
 */
export function encodeReserved<T>(
  encode: Encoder<T>,
  target: Buffer,
  at: number,
  lsn: bigint,
  input: T,
  size: number,
  what: 'record' | 'batch',
): void {
  let written: number;
  try {
    written = encode(target, at, lsn, input);
  } catch (error) {
    if (error instanceof RangeError) throw changedWhileAppended(what);
    throw error;
  }
  if (written !== size) throw changedWhileAppended(what);
}
