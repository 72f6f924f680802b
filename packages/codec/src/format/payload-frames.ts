import { badArgument, invalidArgument } from '../errors/errors.js';
import { copyInto, highU32Last, isBytes, lowU32, viewOf } from '../values/bytes.js';
import { tooLarge } from '../values/validate.js';
import {
  BodyKind,
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY,
  MAX_U32,
  RECORD_BODY_FIXED,
  RecordFlag,
  TIME_FIELD_SIZE,
} from './constants.js';
import { checkedTime, checkFits, checkLsn, putRecordHead, timeBytes } from './frame-writing.js';
import { badField } from './record-input.js';

// Single-record frames of the most common record, a payload alone (type 0, no meta, no
// routing fields): the bytes `record-frame.ts` writes for `{ payload }`, without the object.

/**
 * `encodeRecordFrameUnsealed` for the most common record, a payload alone (type 0, no meta,
 * no routing fields): the same bytes, without a record object to allocate and inspect.
 * `payload` must be a real Uint8Array or Buffer (a Proxy around one is refused), so the
 * length that is checked is the length that is copied.
 */
export function encodePayloadFrameUnsealed(
  target: Buffer,
  offset: number,
  lsn: bigint,
  payload: Uint8Array,
  time?: number,
): number {
  checkLsn('lsn', lsn);
  const t = checkedTime(time);
  return writePayloadAt(target, offset, lowU32(lsn), highU32Last(), payload, 'payload', -1, t);
}

/** Bytes of the frame `encodePayloadFrameUnsealed` writes for `payload` (`timed`: with a time). */
export function payloadFrameSize(payload: Uint8Array, timed?: boolean): number {
  return FRAME_HEADER_SIZE + RECORD_BODY_FIXED + timeBytes(timed) + payload.length;
}

/** A timed payload frame's kind-flags-type word and the fixed part of its body. */
const TIMED_PAYLOAD_HEAD = BodyKind.RECORD | (RecordFlag.TIME << 8);
const TIMED_PAYLOAD_BODY_FIXED = RECORD_BODY_FIXED + TIME_FIELD_SIZE;

/**
 * Checks `payload` (`list[index]`, or `list` alone for index < 0) and writes it as an
 * unsealed plain record frame with LSN `lsnHigh * 2^32 + lsnLow` at `offset`; returns the
 * frame's size. A real Uint8Array only (a Proxy is refused), so the length checked is the
 * length copied. `time` is checked (-1 for none).
 */
function writePayloadAt(
  target: Buffer,
  offset: number,
  lsnLow: number,
  lsnHigh: number,
  payload: unknown,
  list: string,
  index: number,
  time: number,
): number {
  if (!isBytes(payload)) badField(list, index, '', 'a Uint8Array or Buffer', payload);
  if (time < 0) {
    const bodyLength = RECORD_BODY_FIXED + payload.length;
    if (bodyLength > MAX_FRAME_BODY)
      tooLarge('the record frame body', bodyLength, MAX_FRAME_BODY, 'split the record');
    checkFits(target, offset, FRAME_HEADER_SIZE + bodyLength);
    copyInto(
      target,
      payload,
      putRecordHead(target, offset, bodyLength, BodyKind.RECORD, lsnLow, lsnHigh),
    );
    return FRAME_HEADER_SIZE + bodyLength;
  }
  const bodyLength = TIMED_PAYLOAD_BODY_FIXED + payload.length;
  if (bodyLength > MAX_FRAME_BODY)
    tooLarge('the record frame body', bodyLength, MAX_FRAME_BODY, 'split the record');
  checkFits(target, offset, FRAME_HEADER_SIZE + bodyLength);
  const at = putRecordHead(target, offset, bodyLength, TIMED_PAYLOAD_HEAD, lsnLow, lsnHigh);
  // The time through the head's DataView: one store where putU32 pays four (bench W1).
  viewOf(target).setUint32(at, time, true);
  copyInto(target, payload, at + TIME_FIELD_SIZE);
  return FRAME_HEADER_SIZE + bodyLength;
}

/**
 * `encodePayloadFrameUnsealed` for each of `payloads[from]` up to (not including)
 * `payloads[to]`: consecutive single-record frames with LSNs `firstLsn`, `firstLsn + 1`, …
 * (not an atomic batch), as `encodeRecordFramesUnsealed` writes for `{ payload }` objects,
 * without the objects. Returns the bytes written. When a payload is refused (a WalError, a
 * frame that does not fit included), the frames before it have been written but not
 * reported: treat `target` from `offset` on as unwritten.
 */
export function encodePayloadFramesUnsealed(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  payloads: readonly Uint8Array[],
  from: number,
  to: number,
  time?: number,
): number {
  checkLsn('firstLsn', firstLsn);
  const t = checkedTime(time);
  if (!Array.isArray(payloads)) badArgument('payloads', 'an array of Uint8Arrays', payloads);
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to)) {
    invalidArgument(
      `from ${from} and to ${to} must be integers with 0 ≤ from ≤ to, the range of payloads to encode`,
    );
  }
  if (to > payloads.length)
    invalidArgument(
      `to is ${to}, but payloads has ${payloads.length} entries; pass to ≤ ${payloads.length}`,
    );
  let low = lowU32(firstLsn);
  let high = highU32Last();
  if (high === MAX_U32 && low + (to - from) - 1 > MAX_U32)
    badArgument('firstLsn', 'such that every LSN of the records stays ≤ 2^64-1', firstLsn);
  let at = offset;
  for (let i = from; i < to; i++) {
    at += writePayloadAt(target, at, low, high, payloads[i], 'payloads', i, t);
    low = (low + 1) >>> 0;
    if (low === 0) high++;
  }
  return at - offset;
}
