import { badArgument } from '../errors/errors.js';
import { unknownOption } from '../options/unknown-option.js';
import { isBytes, isU64 } from '../values/bytes.js';
import { checkMaxSize, tooLarge } from '../values/validate.js';
import { DEFAULT_MAX_RECORD_SIZE, MAX_U32, RecordFlag } from './constants.js';

// A record as a caller gives it and as a reader gets it, and the checks of its fields that
// every encoder makes (each field read once: see `present`).

/** What a caller appends. Absent routing fields and meta cost zero bytes on disk. */
export interface WalRecordInput {
  /** Application record type, u16; 0 when absent. */
  type?: number | undefined;
  payload: Uint8Array;
  // `undefined` is absent, so a record read back can be appended as it is.
  meta?: Uint8Array | undefined;
  tenantId?: bigint | undefined;
  vshardId?: number | undefined;
  databaseId?: bigint | undefined;
}

/**
 * A decoded record. `payload` and `meta` are views into the scanned buffer (no copy):
 * copy them if the buffer is reused. Absent optional fields are `undefined`.
 */
export interface WalRecord {
  lsn: bigint;
  type: number;
  payload: Buffer;
  // Readers build every record with the same keys (one object shape for V8), so a field a
  // frame does not carry is present and undefined: `'tenantId' in record` says nothing.
  meta?: Buffer | undefined;
  tenantId?: bigint | undefined;
  vshardId?: number | undefined;
  databaseId?: bigint | undefined;
  /**
   * Append time, ms since the epoch: version 2 frames carry it (a batch's entries share
   * theirs); undefined for a version 1 frame, or when the reader was not told the file's
   * header (`FrameScannerOptions.file`, `RecordCursor.useFile`).
   */
  time?: number | undefined;
}

/**
 * WAL_BAD_ARGUMENT for a field of a record: `index` < 0 names the record `list`, else
 * `list[index]`. The encoders' hot paths only call this, so the message is built only
 * for an error and the paths stay small enough for V8 to inline.
 */
export function badField(
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
export function checkedPayload(input: WalRecordInput, list: string, index: number): Uint8Array {
  if (typeof input !== 'object' || input === null)
    badField(list, index, '', 'a record object', input);
  checkFieldNames(input, list, index);
  const payload = input.payload;
  if (!isBytes(payload)) badField(list, index, '.payload', 'a Uint8Array or Buffer', payload);
  return payload;
}

/** The record's type, checked (0 when absent). */
export function checkedType(input: WalRecordInput, list: string, index: number): number {
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
export function inspectOptional(input: WalRecordInput, list: string, index: number): number {
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
export type OptionalFields = Pick<WalRecordInput, 'meta' | 'tenantId' | 'vshardId' | 'databaseId'>;

/**
 * The optional fields `inspectPresent` read last: the writers write these, not a second
 * read of the input, so an input whose getters answer differently each time cannot make a
 * frame disagree with its own lengths. Its meta is dropped after each use, so it keeps at
 * most the meta of a record that failed its checks reachable.
 */
export const present: OptionalFields = {
  meta: undefined,
  tenantId: undefined,
  vshardId: undefined,
  databaseId: undefined,
};

/** Drops `present`'s reference to a caller's meta once it has been used. */
export function forgetPresent(): void {
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
export function inspectInput(input: WalRecordInput, list: string, index: number): number {
  checkedPayload(input, list, index);
  checkedType(input, list, index);
  return inspectOptional(input, list, index);
}

export function recordBytes(input: WalRecordInput): number {
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
