import { putSafeU64, putU32, putU64 } from './bytes.js';
import {
  BATCH_BODY_FIXED,
  BATCH_ENTRY_FIXED,
  BodyKind,
  DEFAULT_MAX_RECORD_SIZE,
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY,
  MAX_LSN,
  MAX_U32,
  RECORD_BODY_FIXED,
  RecordFlag,
} from './constants.js';
import { badArgument } from './errors.js';
import { sealFrameAt } from './frame.js';
import { RecordCursor } from './record-cursor.js';
import { checkMaxSize, checkU64, checkUint, tooLarge } from './validate.js';

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
}

/**
 * Checks every field of `input` and returns its flags byte plus the bytes its optional
 * parts take (routing fields, meta length and meta), packed as `extra * 16 + flags`.
 */
function inspectInput(input: WalRecordInput, where: string): number {
  if (typeof input !== 'object' || input === null) badArgument(where, 'a record object', input);
  const { type, payload, meta, tenantId, vshardId, databaseId } = input;
  if (!(payload instanceof Uint8Array))
    badArgument(`${where}.payload`, 'a Uint8Array or Buffer', payload);
  if (type !== undefined) checkUint(`${where}.type`, type, 0xffff);
  let flags = 0;
  let extra = 0;
  if (meta !== undefined) {
    if (!(meta instanceof Uint8Array)) badArgument(`${where}.meta`, 'a Uint8Array or Buffer', meta);
    flags |= RecordFlag.META;
    extra += 4 + meta.length;
  }
  if (tenantId !== undefined) {
    checkU64(`${where}.tenantId`, tenantId);
    flags |= RecordFlag.TENANT;
    extra += 8;
  }
  if (vshardId !== undefined) {
    checkUint(`${where}.vshardId`, vshardId, MAX_U32);
    flags |= RecordFlag.VSHARD;
    extra += 4;
  }
  if (databaseId !== undefined) {
    checkU64(`${where}.databaseId`, databaseId);
    flags |= RecordFlag.DATABASE;
    extra += 8;
  }
  return extra * 16 + flags;
}

function checkLsn(name: string, lsn: unknown): asserts lsn is bigint {
  if (typeof lsn !== 'bigint' || lsn < 1n || lsn > MAX_LSN)
    badArgument(name, 'a bigint LSN in 1..2^64-1', lsn);
}

function recordBytes(input: WalRecordInput): number {
  return input.payload.length + (input.meta === undefined ? 0 : input.meta.length);
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
  inspectInput(input, 'record');
  const size = recordBytes(input);
  if (size > maxRecordSize)
    tooLarge(
      'the record (payload + meta)',
      size,
      maxRecordSize,
      'split it, or raise maxRecordSize',
    );
}

/** Exact bytes `encodeRecordFrame` writes for `input`. */
export function recordFrameSize(input: WalRecordInput): number {
  const info = inspectInput(input, 'record');
  return FRAME_HEADER_SIZE + RECORD_BODY_FIXED + (info >>> 4) + input.payload.length;
}

function checkFits(target: Buffer, offset: number, size: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length)
    throw new RangeError(
      `a frame of ${size} bytes at offset ${offset} does not fit a buffer of ${target.length}`,
    );
}

/** Writes the optional parts in format order; returns the position after them. */
function writeOptional(target: Buffer, pos: number, input: WalRecordInput, flags: number): number {
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
    target.set(meta, pos);
    pos += meta.length;
  }
  return pos;
}

/**
 * Writes one record frame at `offset` and returns its size. Validates the input
 * (WAL_BAD_ARGUMENT, WAL_RECORD_TOO_LARGE over the format limit; apply your own
 * `maxRecordSize` with `validateRecordInput`). RangeError if the frame does not fit.
 */
export function encodeRecordFrame(
  target: Buffer,
  offset: number,
  lsn: bigint,
  input: WalRecordInput,
): number {
  return writeRecordFrame(target, offset, lsn, input, true);
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
): number {
  return writeRecordFrame(target, offset, lsn, input, false);
}

function writeRecordFrame(
  target: Buffer,
  offset: number,
  lsn: bigint,
  input: WalRecordInput,
  seal: boolean,
): number {
  // One conversion checks the common case: exact below 2^53, and anything larger rounds to
  // 2^53 or more and takes the bigint path.
  const lsnNumber = typeof lsn === 'bigint' ? Number(lsn) : 0;
  if (!(lsnNumber >= 1 && lsnNumber <= Number.MAX_SAFE_INTEGER)) checkLsn('lsn', lsn);
  const info = inspectInput(input, 'record');
  const flags = info & 15;
  const payload = input.payload;
  const bodyLength = RECORD_BODY_FIXED + (info >>> 4) + payload.length;
  if (bodyLength > MAX_FRAME_BODY)
    tooLarge('the record frame body', bodyLength, MAX_FRAME_BODY, 'split the record');
  checkFits(target, offset, FRAME_HEADER_SIZE + bodyLength);
  let pos = offset + FRAME_HEADER_SIZE;
  target[pos] = BodyKind.RECORD;
  target[pos + 1] = flags;
  const type = input.type ?? 0;
  target[pos + 2] = type;
  target[pos + 3] = type >>> 8;
  if (lsnNumber <= Number.MAX_SAFE_INTEGER) putSafeU64(target, pos + 4, lsnNumber);
  else target.writeBigUInt64LE(lsn, pos + 4);
  pos =
    flags === 0
      ? pos + RECORD_BODY_FIXED
      : writeOptional(target, pos + RECORD_BODY_FIXED, input, flags);
  target.set(payload, pos);
  if (seal) sealFrameAt(target, offset, bodyLength);
  else putU32(target, offset + 4, bodyLength);
  return FRAME_HEADER_SIZE + bodyLength;
}

function batchBodyLength(inputs: readonly WalRecordInput[], firstLsn?: bigint): number {
  if (!Array.isArray(inputs)) badArgument('batch', 'an array of records', inputs);
  if (inputs.length === 0) badArgument('batch', 'a non-empty array of records', inputs);
  if (inputs.length > MAX_U32) badArgument('batch', `at most ${MAX_U32} records`, inputs);
  if (firstLsn !== undefined && firstLsn + BigInt(inputs.length - 1) > MAX_LSN)
    badArgument('firstLsn', 'such that every LSN of the batch stays ≤ 2^64-1', firstLsn);
  let length = BATCH_BODY_FIXED;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    length += BATCH_ENTRY_FIXED + (inspectInput(input, `batch[${i}]`) >>> 4);
    length += input.payload.length;
  }
  if (length > MAX_FRAME_BODY)
    tooLarge('the batch frame body', length, MAX_FRAME_BODY, 'split the batch');
  return length;
}

/** Exact bytes `encodeBatchFrame` writes for `inputs`. */
export function batchFrameSize(inputs: readonly WalRecordInput[]): number {
  return FRAME_HEADER_SIZE + batchBodyLength(inputs);
}

/**
 * Writes one atomic batch frame (records get LSNs firstLsn, firstLsn+1, …) and returns
 * its size. Same validation as `encodeRecordFrame`; a batch must not be empty.
 */
export function encodeBatchFrame(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
): number {
  return writeBatchFrame(target, offset, firstLsn, inputs, true);
}

/** `encodeBatchFrame` without the CRC, for `sealFrames` (see `encodeRecordFrameUnsealed`). */
export function encodeBatchFrameUnsealed(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
): number {
  return writeBatchFrame(target, offset, firstLsn, inputs, false);
}

function writeBatchFrame(
  target: Buffer,
  offset: number,
  firstLsn: bigint,
  inputs: readonly WalRecordInput[],
  seal: boolean,
): number {
  checkLsn('firstLsn', firstLsn);
  const bodyLength = batchBodyLength(inputs, firstLsn);
  checkFits(target, offset, FRAME_HEADER_SIZE + bodyLength);
  let pos = offset + FRAME_HEADER_SIZE;
  target[pos] = BodyKind.BATCH;
  target[pos + 1] = 0;
  target.writeUInt16LE(0, pos + 2);
  putU32(target, pos + 4, inputs.length);
  putU64(target, pos + 8, firstLsn);
  pos += BATCH_BODY_FIXED;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    const flags = inspectInput(input, `batch[${i}]`) & 15;
    const type = input.type ?? 0;
    target[pos] = flags;
    target[pos + 1] = type;
    target[pos + 2] = type >>> 8;
    putU32(target, pos + 3, input.payload.length);
    pos = writeOptional(target, pos + BATCH_ENTRY_FIXED, input, flags);
    target.set(input.payload, pos);
    pos += input.payload.length;
  }
  if (seal) sealFrameAt(target, offset, bodyLength);
  else putU32(target, offset + 4, bodyLength);
  return FRAME_HEADER_SIZE + bodyLength;
}

/** Decoder state shared by the functions below (they run to completion, one at a time). */
const decoder = new RecordCursor();

/** Decodes a record body in `buf[start..end)` (kind byte included). WAL_CORRUPT if malformed. */
export function decodeRecordAt(buf: Buffer, start: number, end: number): WalRecord {
  decoder.readRecord(buf, start, end);
  return decoder.toRecord();
}

/** Decodes a batch body in `buf[start..end)`, appending its records to `out` in order. */
export function decodeBatchAt(buf: Buffer, start: number, end: number, out: WalRecord[]): void {
  decoder.openBatch(buf, start, end);
  out.push(decoder.toRecord());
  while (decoder.inBatch) {
    decoder.nextEntry();
    out.push(decoder.toRecord());
  }
}

/** Decodes a single-record body (a frame body of kind 0x01). WAL_CORRUPT if malformed. */
export function decodeRecordBody(body: Buffer): WalRecord {
  return decodeRecordAt(toBuffer(body), 0, body.length);
}

/** Decodes a batch body (kind 0x02) into its records in LSN order. WAL_CORRUPT if malformed. */
export function decodeBatchBody(body: Buffer): WalRecord[] {
  const out: WalRecord[] = [];
  decodeBatchAt(toBuffer(body), 0, body.length, out);
  return out;
}

/** A Buffer view of `bytes` without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (!(bytes instanceof Uint8Array)) badArgument('buffer', 'a Uint8Array or Buffer', bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
