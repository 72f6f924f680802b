/**
 * What an append checks about a frame before it commits it: that recovery will read it
 * back, and that it is exactly the size the append reserved for it.
 */
import {
  badArgument,
  FRAME_HEADER_SIZE,
  isBytes,
  isFrameDoesNotFit,
  MAX_FRAME_BODY,
  payloadFrameSize,
  validateRecordInput,
  WalError,
  WalErrorCode,
} from '@walnut/codec';

/**
 * WAL_RECORD_TOO_LARGE when a frame's body is over the format's bound (MAX_FRAME_BODY): a
 * batch of many small records can keep its payload and meta under maxRecordSize and still
 * need more, for its per-record headers. The bound is the format's, never an option's, so
 * what one run writes every later run reads, whatever it sets maxRecordSize to.
 */
export function checkFrameBody(frameSize: number, what: 'record' | 'batch'): void {
  const body = frameSize - FRAME_HEADER_SIZE;
  if (body <= MAX_FRAME_BODY) return;
  throw new WalError(
    WalErrorCode.RECORD_TOO_LARGE,
    `the ${what}'s frame body would be ${body} bytes (payload and meta plus the headers of every record), over the ${MAX_FRAME_BODY} bytes the format allows in one frame; ${what === 'batch' ? 'split the batch' : 'split the record'}`,
    { details: { size: body, limit: MAX_FRAME_BODY } },
  );
}

/**
 * Reads each of `payloads` once into `into`, checking it as `appendPayload` checks one, and
 * returns the bytes of their frames: the appends then work from `into`, so what was checked
 * is what is encoded even if the caller's array has getters or is a Proxy. Nothing is
 * appended when one is refused. `into` ends as long as the list; the caller overwrites its
 * entries afterwards (`forgetPayloads`) rather than emptying it, so that the next list
 * fills it in place instead of growing it again (bench W1).
 */
export function takePayloads(
  payloads: readonly Uint8Array[],
  into: Uint8Array[],
  maxRecordSize: number,
): number {
  if (!Array.isArray(payloads)) badArgument('payloads', 'an array of Uint8Arrays', payloads);
  const count = payloads.length;
  if (count === 0) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      'payloads is empty: pass at least one payload (skip the call when there is nothing to append)',
    );
  }
  // One comparison per payload: only a payload longer than both limits allow is looked at
  // closely, by the checks that name what it is over.
  // Every frame a writer appends carries its time (format version 2).
  const frameOverhead = payloadFrameSize(EMPTY, true);
  const longest = Math.min(maxRecordSize, MAX_FRAME_BODY + FRAME_HEADER_SIZE - frameOverhead);
  let payloadBytes = 0;
  for (let i = 0; i < count; i++) {
    const payload = payloads[i];
    if (!isBytes(payload)) {
      badArgument(`payloads[${i}]`, 'a Uint8Array or Buffer', payload);
    }
    const length = payload.length;
    if (length > longest) {
      validateRecordInput({ payload }, maxRecordSize);
      checkFrameBody(payloadFrameSize(payload, true), 'record');
    }
    payloadBytes += length;
    into[i] = payload;
  }
  if (into.length > count) into.length = count;
  return payloadBytes + count * frameOverhead;
}

const EMPTY = new Uint8Array(0);

/** Drops `into`'s references to the caller's buffers, keeping its length and storage. */
export function forgetPayloads(into: Uint8Array[]): void {
  into.fill(EMPTY);
}

function changedWhileAppended(what: 'record' | 'batch'): WalError {
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `the ${what} changed while it was appended (a getter answered differently when read again); append plain objects whose fields hold their values`,
  );
}

/** A codec encoder: `time` is the frame's time in ms after its segment's createdAtMs. */
export type Encoder<T> = (
  target: Buffer,
  offset: number,
  lsn: bigint,
  input: T,
  time: number,
) => number;

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
  time: number,
): void {
  let written: number;
  try {
    written = encode(target, at, lsn, input, time);
  } catch (error) {
    if (isFrameDoesNotFit(error)) throw changedWhileAppended(what);
    throw error;
  }
  if (written !== size) throw changedWhileAppended(what);
}
