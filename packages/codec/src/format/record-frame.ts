import { badArgument } from '../errors/errors.js';
import { copyInto, highU32Last, lowU32, putU32 } from '../values/bytes.js';
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
import { sealFrameAt } from './frame.js';
import {
  checkedTime,
  checkFits,
  checkLsn,
  putRecordHead,
  timeBytes,
  writeOptional,
} from './frame-writing.js';
import {
  checkedPayload,
  checkedType,
  forgetPresent,
  inspectOptional,
  present,
  type WalRecordInput,
} from './record-input.js';

// Single-record frames (kind 0x01) from record objects: one, or a run of consecutive ones.

/** Exact bytes `encodeRecordFrame` writes for `input` (`timed`: with a `time` argument). */
export function recordFrameSize(input: WalRecordInput, timed?: boolean): number {
  return (
    FRAME_HEADER_SIZE +
    RECORD_BODY_FIXED +
    timeBytes(timed) +
    recordBodyVariable(input, 'record', -1)
  );
}

/** Checks `input`; returns its payload, meta and routing bytes (each field read once). */
function recordBodyVariable(input: WalRecordInput, list: string, index: number): number {
  const payload = checkedPayload(input, list, index);
  checkedType(input, list, index);
  const extra = inspectOptional(input, list, index) >>> 4;
  forgetPresent();
  return extra + payload.length;
}

/**
 * Writes one record frame at `offset` and returns its size. Validates the input
 * (WAL_BAD_ARGUMENT, WAL_RECORD_TOO_LARGE over the format limit; apply your own
 * `maxRecordSize` with `validateRecordInput`); WAL_BAD_ARGUMENT if the frame does not fit.
 * `time` (version 2 files only): the record's time as a u32 of ms after the file's
 * `createdAtMs`; without it the frame has no time (the only layout of version 1).
 */
export function encodeRecordFrame(
  target: Buffer,
  offset: number,
  lsn: bigint,
  input: WalRecordInput,
  time?: number,
): number {
  return writeRecordFrame(target, offset, lsn, input, true, checkedTime(time));
}

/**
 * `encodeRecordFrame` without the CRC: writes the length and body and leaves the CRC
 * field for `sealFrames`, which seals a whole buffer of such frames in one call. A
 * frame must be sealed before anything reads or stores it.
 */
export function encodeRecordFrameUnsealed(
  target: Buffer,
  offset: number,
  lsn: bigint,
  input: WalRecordInput,
  time?: number,
): number {
  return writeRecordFrame(target, offset, lsn, input, false, checkedTime(time));
}

function writeRecordFrame(
  target: Buffer,
  offset: number,
  lsn: bigint,
  input: WalRecordInput,
  seal: boolean,
  time: number,
): number {
  checkLsn('lsn', lsn);
  const size = writeRecordAt(target, offset, lowU32(lsn), highU32Last(), input, 'record', -1, time);
  if (seal) sealFrameAt(target, offset, size - FRAME_HEADER_SIZE);
  return size;
}

/**
 * Checks `input` and writes it as an unsealed record frame with LSN `lsnHigh * 2^32 +
 * lsnLow` at `offset`; returns the frame's size. WAL_BAD_ARGUMENT, before writing, if it does
 * not fit. Each field is read once, so what is checked is what is written. `time`: checked, -1
 * for none; it goes first among the optional fields.
 */
function writeRecordAt(
  target: Buffer,
  offset: number,
  lsnLow: number,
  lsnHigh: number,
  input: WalRecordInput,
  list: string,
  index: number,
  time: number,
): number {
  const payload = checkedPayload(input, list, index);
  const type = checkedType(input, list, index);
  const info = inspectOptional(input, list, index);
  const flags = info & 15;
  const timed = time >= 0;
  const bodyLength =
    RECORD_BODY_FIXED + (timed ? TIME_FIELD_SIZE : 0) + (info >>> 4) + payload.length;
  if (bodyLength > MAX_FRAME_BODY)
    tooLarge('the record frame body', bodyLength, MAX_FRAME_BODY, 'split the record');
  checkFits(target, offset, FRAME_HEADER_SIZE + bodyLength);
  const head = BodyKind.RECORD | ((timed ? flags | RecordFlag.TIME : flags) << 8) | (type << 16);
  let fixedEnd = putRecordHead(target, offset, bodyLength, head, lsnLow, lsnHigh);
  if (timed) {
    putU32(target, fixedEnd, time);
    fixedEnd += TIME_FIELD_SIZE;
  }
  const at = flags === 0 ? fixedEnd : writeOptional(target, fixedEnd, present, flags);
  forgetPresent();
  copyInto(target, payload, at);
  return FRAME_HEADER_SIZE + bodyLength;
}

/** Exact bytes `encodeRecordFramesUnsealed` writes for `inputs` (`timed`: with a time). */
export function recordFramesSize(inputs: readonly WalRecordInput[], timed?: boolean): number {
  if (!Array.isArray(inputs)) badArgument('records', 'an array of records', inputs);
  const fixed = FRAME_HEADER_SIZE + RECORD_BODY_FIXED + timeBytes(timed);
  let size = 0;
  for (let i = 0; i < inputs.length; i++)
    size += fixed + recordBodyVariable(inputs[i]!, 'records', i);
  return size;
}

/**
 * Writes `inputs` as consecutive single-record frames with LSNs `firstLsn`, `firstLsn + 1`,
 * … (each frame stands alone on recovery: this is not an atomic batch), unsealed like
 * `encodeRecordFrameUnsealed`, and returns the bytes written; seal them with `sealFrames`.
 * One call pays the LSN's bigint checks once instead of once per record. Every record is
 * checked before it is written; when one fails (a WalError, a frame that does not fit
 * included), the frames before it have been written but not reported: treat `target`
 * from `offset` on as unwritten.
 */
export function encodeRecordFramesUnsealed(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
  time?: number,
): number {
  checkLsn('firstLsn', firstLsn);
  const t = checkedTime(time);
  if (!Array.isArray(inputs)) badArgument('records', 'an array of records', inputs);
  const count = inputs.length;
  let low = lowU32(firstLsn);
  let high = highU32Last();
  // An array holds fewer than 2^32 records, so only the top high word can overflow.
  if (high === MAX_U32 && low + count - 1 > MAX_U32)
    badArgument('firstLsn', 'such that every LSN of the records stays ≤ 2^64-1', firstLsn);
  let at = offset;
  for (let i = 0; i < count; i++) {
    at += writeRecordAt(target, at, low, high, inputs[i]!, 'records', i, t);
    low = (low + 1) >>> 0;
    if (low === 0) high++;
  }
  return at - offset;
}
