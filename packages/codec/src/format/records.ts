import { badArgument } from '../errors/errors.js';
import { unknownOption } from '../options/unknown-option.js';
import {
  copyInto,
  highU32Last,
  isBytes,
  isU64,
  lowU32,
  putU32,
  putU64,
  viewOf,
} from '../values/bytes.js';
import { checkMaxSize, tooLarge } from '../values/validate.js';
import {
  BATCH_BODY_FIXED,
  BATCH_ENTRY_FIXED,
  BatchFlag,
  BodyKind,
  DEFAULT_MAX_RECORD_SIZE,
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY,
  MAX_LSN,
  MAX_U32,
  RECORD_BODY_FIXED,
  RecordFlag,
  TIME_FIELD_SIZE,
} from './constants.js';
import { sealFrameAt } from './frame.js';
import { RecordCursor, type RecordFile } from './record-cursor.js';

/** What a caller appends. Absent routing fields and meta cost zero bytes on disk. */
export interface WalRecordInput {
  /** Application record type, u16; 0 when absent. */
  type?: number;
  payload: Uint8Array;
  meta?: Uint8Array;
  tenantId?: bigint;
  vshardId?: number;
  databaseId?: bigint;
}

/**
 * A decoded record. `payload` and `meta` are views into the scanned buffer (no copy):
 * copy them if the buffer is reused. Absent optional fields are `undefined`.
 */
export interface WalRecord {
  lsn: bigint;
  type: number;
  payload: Buffer;
  meta?: Buffer;
  tenantId?: bigint;
  vshardId?: number;
  databaseId?: bigint;
  /**
   * Append time, ms since the epoch: version 2 frames carry it (a batch's entries share
   * theirs); undefined for a version 1 frame, or when the reader was not told the file's
   * header (`FrameScannerOptions.file`, `RecordCursor.useFile`).
   */
  time?: number;
}

/**
 * The time argument of the encoders: a u32 of ms after the file's `createdAtMs` (version 2),
 * or undefined for a frame without time (version 1). Returns -1 for none.
 */
function checkedTime(time: number | undefined): number {
  if (time === undefined) return -1;
  if (typeof time !== 'number' || time >>> 0 !== time)
    badArgument('time', `an integer in 0..${MAX_U32} (ms after the file's createdAtMs)`, time);
  return time;
}

/** Bytes a time field adds: `timed` is what the encoders' `time` argument will be. */
function timeBytes(timed: boolean | undefined): number {
  return timed === true ? TIME_FIELD_SIZE : 0;
}

/**
 * WAL_BAD_ARGUMENT for a field of a record: `index` < 0 names the record `list`, else
 * `list[index]`. The encoders' hot paths only call this, so the message is built only
 * for an error and the paths stay small enough for V8 to inline.
 */
function badField(
  list: string,
  index: number,
  field: string,
  expected: string,
  got: unknown,
): never {
  badArgument(`${index < 0 ? list : `${list}[${index}]`}${field}`, expected, got);
}

/** The fields a record input may have: anything else is a caller's slip, never dropped silently. */
export const RECORD_FIELDS: readonly string[] = [
  'payload',
  'meta',
  'type',
  'tenantId',
  'vshardId',
  'databaseId',
];

/**
 * WAL_BAD_ARGUMENT naming the first field of `input` that a record does not have. The names
 * are compared one by one rather than with RECORD_FIELDS.includes: 8 ns a record against 15
 * (CPU time, 1 M encodes); the test of this check holds the two lists equal.
 */
function checkFieldNames(input: WalRecordInput, list: string, index: number): void {
  for (const key in input) {
    if (
      key !== 'payload' &&
      key !== 'meta' &&
      key !== 'type' &&
      key !== 'tenantId' &&
      key !== 'vshardId' &&
      key !== 'databaseId'
    ) {
      const where = index < 0 ? `a ${list}` : `${list}[${index}]`;
      throw unknownOption(key, RECORD_FIELDS, where, 'a field');
    }
  }
}

/** Checks that `input` is a record object with a Uint8Array payload; returns the payload. */
function checkedPayload(input: WalRecordInput, list: string, index: number): Uint8Array {
  if (typeof input !== 'object' || input === null)
    badField(list, index, '', 'a record object', input);
  checkFieldNames(input, list, index);
  const payload = input.payload;
  if (!isBytes(payload)) badField(list, index, '.payload', 'a Uint8Array or Buffer', payload);
  return payload;
}

/** The record's type, checked (0 when absent). */
function checkedType(input: WalRecordInput, list: string, index: number): number {
  const type = input.type;
  if (type === undefined) return 0;
  // Only an integer in 0..0xffff survives `& 0xffff` unchanged.
  if (typeof type !== 'number' || (type & 0xffff) !== type)
    badField(list, index, '.type', 'an integer in 0..65535', type);
  return type;
}

/**
 * Checks the optional fields of `input` and returns its flags byte plus the bytes they
 * take (routing fields, meta length and meta), packed as `extra * 16 + flags`: 0 for a
 * plain record, which costs four property reads.
 */
function inspectOptional(input: WalRecordInput, list: string, index: number): number {
  const { meta, tenantId, vshardId, databaseId } = input;
  if (
    meta === undefined &&
    tenantId === undefined &&
    vshardId === undefined &&
    databaseId === undefined
  )
    return 0;
  return inspectPresent(input, list, index);
}

/** A record's optional fields as one read of them saw them. */
type OptionalFields = Pick<WalRecordInput, 'meta' | 'tenantId' | 'vshardId' | 'databaseId'>;

/**
 * The optional fields `inspectPresent` read last: the writers write these, not a second
 * read of the input, so an input whose getters answer differently each time cannot make a
 * frame disagree with its own lengths. Its meta is dropped after each use, so it keeps at
 * most the meta of a record that failed its checks reachable.
 */
const present: OptionalFields = {
  meta: undefined,
  tenantId: undefined,
  vshardId: undefined,
  databaseId: undefined,
};

/** Drops `present`'s reference to a caller's meta once it has been used. */
function forgetPresent(): void {
  present.meta = undefined;
}

/** `inspectOptional` for a record with at least one optional field (kept out of line). */
function inspectPresent(input: WalRecordInput, list: string, index: number): number {
  const { meta, tenantId, vshardId, databaseId } = input;
  present.meta = meta;
  present.tenantId = tenantId;
  present.vshardId = vshardId;
  present.databaseId = databaseId;
  let flags = 0;
  let extra = 0;
  if (meta !== undefined) {
    if (!isBytes(meta)) badField(list, index, '.meta', 'a Uint8Array or Buffer', meta);
    flags |= RecordFlag.META;
    extra += 4 + meta.length;
  }
  if (tenantId !== undefined) {
    if (!isU64(tenantId)) badField(list, index, '.tenantId', 'a bigint in 0..2^64-1', tenantId);
    flags |= RecordFlag.TENANT;
    extra += 8;
  }
  if (vshardId !== undefined) {
    if (typeof vshardId !== 'number' || vshardId >>> 0 !== vshardId)
      badField(list, index, '.vshardId', `an integer in 0..${MAX_U32}`, vshardId);
    flags |= RecordFlag.VSHARD;
    extra += 4;
  }
  if (databaseId !== undefined) {
    if (!isU64(databaseId))
      badField(list, index, '.databaseId', 'a bigint in 0..2^64-1', databaseId);
    flags |= RecordFlag.DATABASE;
    extra += 8;
  }
  return extra * 16 + flags;
}

/** Checks every field of `input`; returns what `inspectOptional` returns. */
function inspectInput(input: WalRecordInput, list: string, index: number): number {
  checkedPayload(input, list, index);
  checkedType(input, list, index);
  return inspectOptional(input, list, index);
}

/**
 * `asUintN(64, lsn) === lsn` costs about half of two bigint comparisons (perf stat, 55 vs
 * 101 instructions) and allocates only for LSNs from 2^63 on, which a log never reaches.
 */
function checkLsn(name: string, lsn: unknown): asserts lsn is bigint {
  if (typeof lsn !== 'bigint' || BigInt.asUintN(64, lsn) !== lsn || lsn === 0n)
    badArgument(name, 'a bigint LSN in 1..2^64-1', lsn);
}

function recordBytes(input: WalRecordInput): number {
  return input.payload.length + (input.meta === undefined ? 0 : input.meta.length);
}

/**
 * Checks every field of a `{ payload, meta?, … }` record as the encoders do (WAL_BAD_ARGUMENT
 * naming the field) and returns its payload plus meta bytes: what a queue's bound or a
 * batch's size counts, before any maxRecordSize applies.
 */
export function recordInputBytes(input: WalRecordInput): number {
  inspectInput(input, 'record', -1);
  forgetPresent();
  return recordBytes(input);
}

/**
 * Throws WAL_BAD_ARGUMENT for a field of the wrong type or range and WAL_RECORD_TOO_LARGE
 * when payload + meta exceed `maxRecordSize`.
 */
export function validateRecordInput(
  input: WalRecordInput,
  maxRecordSize: number = DEFAULT_MAX_RECORD_SIZE,
): void {
  checkMaxSize('maxRecordSize', maxRecordSize);
  inspectInput(input, 'record', -1);
  const size = recordBytes(input);
  if (size > maxRecordSize)
    tooLarge(
      'the record (payload + meta)',
      size,
      maxRecordSize,
      'split it, or raise maxRecordSize',
    );
}

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

function checkFits(target: Buffer, offset: number, size: number): void {
  if (!(offset >= 0 && offset + size <= target.length) || !Number.isInteger(offset))
    doesNotFit(target, offset, size);
}

function doesNotFit(target: Buffer, offset: number, size: number): never {
  throw new RangeError(
    `a frame of ${size} bytes at offset ${offset} does not fit a buffer of ${target.length}`,
  );
}

/** Writes the optional parts in format order; returns the position after them. */
function writeOptional(target: Buffer, pos: number, input: OptionalFields, flags: number): number {
  if (flags & RecordFlag.TENANT) {
    putU64(target, pos, input.tenantId!);
    pos += 8;
  }
  if (flags & RecordFlag.VSHARD) {
    putU32(target, pos, input.vshardId!);
    pos += 4;
  }
  if (flags & RecordFlag.DATABASE) {
    putU64(target, pos, input.databaseId!);
    pos += 8;
  }
  if (flags & RecordFlag.META) {
    const meta = input.meta!;
    putU32(target, pos, meta.length);
    pos += 4;
    copyInto(target, meta, pos);
    pos += meta.length;
  }
  return pos;
}

/**
 * Writes one record frame at `offset` and returns its size. Validates the input
 * (WAL_BAD_ARGUMENT, WAL_RECORD_TOO_LARGE over the format limit; apply your own
 * `maxRecordSize` with `validateRecordInput`). RangeError if the frame does not fit.
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
 * without the objects. Returns the bytes written. When a payload is refused (WalError, or
 * RangeError for a frame that does not fit), the frames before it have been written but not
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
    throw new RangeError(`${from}..${to} is not a range of payloads`);
  }
  if (to > payloads.length)
    throw new RangeError(`payloads has ${payloads.length} entries, not ${to}`);
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

/**
 * Writes a record frame's length and the fixed part of its body (kind, flags and type in one
 * u32, then the LSN's halves); returns where the optional fields or the payload go.
 */
function putRecordHead(
  target: Buffer,
  offset: number,
  bodyLength: number,
  kindFlagsType: number,
  lsnLow: number,
  lsnHigh: number,
): number {
  const pos = offset + FRAME_HEADER_SIZE;
  const view = viewOf(target);
  view.setUint32(offset + 4, bodyLength, true);
  view.setUint32(pos, kindFlagsType, true);
  view.setUint32(pos + 4, lsnLow, true);
  view.setUint32(pos + 8, lsnHigh, true);
  return pos + RECORD_BODY_FIXED;
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
 * lsnLow` at `offset`; returns the frame's size. RangeError, before writing, if it does not
 * fit. Each field is read once, so what is checked is what is written. `time`: checked, -1
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
 * checked before it is written; when one fails (WalError, or RangeError for a frame that
 * does not fit), the frames before it have been written but not reported: treat `target`
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

/**
 * A batch's records as `readBatch` read them, each field once; `writeBatchFrame` writes
 * these, so the frame agrees with the size it was checked against whatever the inputs'
 * getters answer later. Emptied after each use: no caller's buffer stays reachable.
 */
const batchPayloads: Uint8Array[] = [];
const batchHeads: number[] = [];
const batchOptionals: (OptionalFields | undefined)[] = [];

/**
 * Checks a batch and returns its body length; with `keep`, leaves each record's payload,
 * `type << 8 | flags` and optional fields in the arrays above.
 */
function readBatch(inputs: readonly WalRecordInput[], keep: boolean, firstLsn?: bigint): number {
  if (!Array.isArray(inputs)) badArgument('batch', 'an array of records', inputs);
  const count = inputs.length;
  if (count === 0) badArgument('batch', 'a non-empty array of records', inputs);
  if (count > MAX_U32) badArgument('batch', `at most ${MAX_U32} records`, inputs);
  if (firstLsn !== undefined && firstLsn + BigInt(count - 1) > MAX_LSN)
    badArgument('firstLsn', 'such that every LSN of the batch stays ≤ 2^64-1', firstLsn);
  let length = BATCH_BODY_FIXED;
  try {
    for (let i = 0; i < count; i++) {
      const input = inputs[i]!;
      const payload = checkedPayload(input, 'batch', i);
      const type = checkedType(input, 'batch', i);
      const info = inspectOptional(input, 'batch', i);
      length += BATCH_ENTRY_FIXED + (info >>> 4) + payload.length;
      if (!keep) continue;
      batchPayloads.push(payload);
      batchHeads.push((type << 8) | (info & 15));
      batchOptionals.push(info === 0 ? undefined : { ...present });
    }
  } catch (error) {
    forgetBatch();
    throw error;
  } finally {
    forgetPresent();
  }
  if (keep && batchPayloads.length !== count) {
    // A getter of one of the records encoded a batch itself, inside this read.
    forgetBatch();
    badArgument('batch', 'records whose getters do not encode batches', inputs);
  }
  if (length > MAX_FRAME_BODY) {
    forgetBatch();
    tooLarge('the batch frame body', length, MAX_FRAME_BODY, 'split the batch');
  }
  return length;
}

function forgetBatch(): void {
  batchPayloads.length = 0;
  batchHeads.length = 0;
  batchOptionals.length = 0;
}

/** Exact bytes `encodeBatchFrame` writes for `inputs` (`timed`: with a time). */
export function batchFrameSize(inputs: readonly WalRecordInput[], timed?: boolean): number {
  return FRAME_HEADER_SIZE + timeBytes(timed) + readBatch(inputs, false);
}

/**
 * Writes one atomic batch frame (records get LSNs firstLsn, firstLsn+1, …) and returns
 * its size. Same validation as `encodeRecordFrame`; a batch must not be empty. `time`
 * (version 2): one time for every record of the batch, as for `encodeRecordFrame`.
 */
export function encodeBatchFrame(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
  time?: number,
): number {
  return writeBatchFrame(target, offset, firstLsn, inputs, true, checkedTime(time));
}

/** `encodeBatchFrame` without the CRC, for `sealFrames` (see `encodeRecordFrameUnsealed`). */
export function encodeBatchFrameUnsealed(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
  time?: number,
): number {
  return writeBatchFrame(target, offset, firstLsn, inputs, false, checkedTime(time));
}

function writeBatchFrame(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
  seal: boolean,
  time: number,
): number {
  checkLsn('firstLsn', firstLsn);
  const timed = time >= 0;
  const bodyLength = (timed ? TIME_FIELD_SIZE : 0) + readBatch(inputs, true, firstLsn);
  try {
    if (bodyLength > MAX_FRAME_BODY)
      tooLarge('the batch frame body', bodyLength, MAX_FRAME_BODY, 'split the batch');
    checkFits(target, offset, FRAME_HEADER_SIZE + bodyLength);
    let pos = offset + FRAME_HEADER_SIZE;
    target[pos] = BodyKind.BATCH;
    target[pos + 1] = timed ? BatchFlag.TIME : 0;
    target.writeUInt16LE(0, pos + 2);
    putU32(target, pos + 4, batchPayloads.length);
    putU64(target, pos + 8, firstLsn);
    pos += BATCH_BODY_FIXED;
    if (timed) {
      putU32(target, pos, time);
      pos += TIME_FIELD_SIZE;
    }
    for (let i = 0; i < batchPayloads.length; i++) {
      const payload = batchPayloads[i]!;
      const head = batchHeads[i]!;
      target[pos] = head & 15;
      target[pos + 1] = head >>> 8;
      target[pos + 2] = head >>> 16;
      putU32(target, pos + 3, payload.length);
      pos += BATCH_ENTRY_FIXED;
      const optional = batchOptionals[i];
      if (optional !== undefined) pos = writeOptional(target, pos, optional, head & 15);
      copyInto(target, payload, pos);
      pos += payload.length;
    }
  } finally {
    forgetBatch();
  }
  if (seal) sealFrameAt(target, offset, bodyLength);
  else putU32(target, offset + 4, bodyLength);
  return FRAME_HEADER_SIZE + bodyLength;
}

/** Decoder state shared by the functions below (they run to completion, one at a time). */
const decoder = new RecordCursor();

/**
 * Decodes the record body in `buf[start..end)` (kind byte included) in place: the payload is
 * a view of `buf`, and no view of the body is cut first. WAL_CORRUPT if malformed. `file`:
 * the header of the file it comes from (see `FrameScannerOptions.file`).
 */
export function decodeRecordAt(
  buf: Buffer,
  start: number,
  end: number,
  file?: RecordFile,
): WalRecord {
  decoder.useFile(file);
  return decoder.recordAt(buf, start, end);
}

/** Decodes a batch body in `buf[start..end)`, appending its records to `out` in order. */
export function decodeBatchAt(
  buf: Buffer,
  start: number,
  end: number,
  out: WalRecord[],
  file?: RecordFile,
): void {
  decoder.useFile(file);
  decoder.openBatch(buf, start, end);
  out.push(decoder.toRecord());
  while (decoder.inBatch) {
    decoder.nextEntry();
    out.push(decoder.toRecord());
  }
}

/** Decodes a single-record body (a frame body of kind 0x01). WAL_CORRUPT if malformed. */
export function decodeRecordBody(body: Buffer, file?: RecordFile): WalRecord {
  return decodeRecordAt(toBuffer(body), 0, body.length, file);
}

/** Decodes a batch body (kind 0x02) into its records in LSN order. WAL_CORRUPT if malformed. */
export function decodeBatchBody(body: Buffer, file?: RecordFile): WalRecord[] {
  const out: WalRecord[] = [];
  decodeBatchAt(toBuffer(body), 0, body.length, out, file);
  return out;
}

/** A Buffer view of `bytes` without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (!isBytes(bytes)) badArgument('buffer', 'a Uint8Array or Buffer', bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
