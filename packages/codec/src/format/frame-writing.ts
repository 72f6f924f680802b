import { badArgument, frameDoesNotFit } from '../errors/errors.js';
import { copyInto, putU32, putU64, viewOf } from '../values/bytes.js';
import {
  FRAME_HEADER_SIZE,
  MAX_U32,
  RECORD_BODY_FIXED,
  RecordFlag,
  TIME_FIELD_SIZE,
} from './constants.js';
import type { OptionalFields } from './record-input.js';

// What the record, payload and batch frame writers share: their argument checks and the
// layout of a record's head and optional fields (FORMAT.md).

/**
 * The time argument of the encoders: a u32 of ms after the file's `createdAtMs` (version 2),
 * or undefined for a frame without time (version 1). Returns -1 for none.
 */
export function checkedTime(time: number | undefined): number {
  if (time === undefined) return -1;
  if (typeof time !== 'number' || time >>> 0 !== time)
    badArgument('time', `an integer in 0..${MAX_U32} (ms after the file's createdAtMs)`, time);
  return time;
}

/** Bytes a time field adds: `timed` is what the encoders' `time` argument will be. */
export function timeBytes(timed: boolean | undefined): number {
  return timed === true ? TIME_FIELD_SIZE : 0;
}

/**
 * `asUintN(64, lsn) === lsn` costs about half of two bigint comparisons (perf stat, 55 vs
 * 101 instructions) and allocates only for LSNs from 2^63 on, which a log never reaches.
 */
export function checkLsn(name: string, lsn: unknown): asserts lsn is bigint {
  if (typeof lsn !== 'bigint' || BigInt.asUintN(64, lsn) !== lsn || lsn === 0n)
    badArgument(name, 'a bigint LSN in 1..2^64-1', lsn);
}

export function checkFits(target: Buffer, offset: number, size: number): void {
  if (!(offset >= 0 && offset + size <= target.length) || !Number.isInteger(offset))
    frameDoesNotFit(size, offset, target.length);
}

/** Writes the optional parts in format order; returns the position after them. */
export function writeOptional(
  target: Buffer,
  pos: number,
  input: OptionalFields,
  flags: number,
): number {
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
 * Writes a record frame's length and the fixed part of its body (kind, flags and type in one
 * u32, then the LSN's halves); returns where the optional fields or the payload go.
 */
export function putRecordHead(
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
