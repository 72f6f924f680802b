import { badArgument, frameDoesNotFit } from '../errors/errors.js';
import { checkBytes, checkU64, checkUint, malformed, tooLarge } from '../values/validate.js';
import {
  BodyKind,
  CORE_ENTRY_FIXED,
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY,
  MAX_U32,
} from './constants.js';
import { sealFrame } from './frame.js';
import { toBuffer } from './records.js';

/** One operation of a per-core log. */
export type CoreOp =
  | { op: 'put'; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; key: Uint8Array }
  | { op: 'checkpoint'; checkpointId: bigint }
  | { op: 'commit'; offsets: Map<string, bigint>; watermark?: bigint }
  | { op: 'epochBarrier' };

/** A per-core entry: the operation plus where and when it happened. */
export type CoreEntry = CoreOp & {
  coreId: number;
  epoch: bigint;
  sequence: bigint;
  timestampNs: bigint;
};

const OP_CODE = { put: 1, delete: 2, checkpoint: 3, commit: 4, epochBarrier: 5 } as const;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Validates `entry` and returns the length of its operation body. */
function opBodyLength(entry: CoreEntry): number {
  if (typeof entry !== 'object' || entry === null)
    badArgument('entry', 'a core entry object', entry);
  checkUint('entry.coreId', entry.coreId, 0xffff);
  checkU64('entry.epoch', entry.epoch);
  checkU64('entry.sequence', entry.sequence);
  checkU64('entry.timestampNs', entry.timestampNs);
  switch (entry.op) {
    case 'put':
      checkBytes('entry.key', entry.key);
      checkBytes('entry.value', entry.value);
      return 4 + entry.key.length + entry.value.length;
    case 'delete':
      checkBytes('entry.key', entry.key);
      return entry.key.length;
    case 'checkpoint':
      checkU64('entry.checkpointId', entry.checkpointId);
      return 8;
    case 'commit':
      return commitBodyLength(entry.offsets, entry.watermark);
    case 'epochBarrier':
      return 0;
    default:
      return badArgument(
        'entry.op',
        "'put', 'delete', 'checkpoint', 'commit' or 'epochBarrier'",
        (entry as { op: unknown }).op,
      );
  }
}

function commitBodyLength(offsets: Map<string, bigint>, watermark: bigint | undefined): number {
  if (!(offsets instanceof Map)) badArgument('entry.offsets', 'a Map<string, bigint>', offsets);
  if (offsets.size > MAX_U32) badArgument('entry.offsets', `at most ${MAX_U32} entries`, offsets);
  let length = 4 + 1;
  for (const [name, offset] of offsets) {
    if (typeof name !== 'string' || LONE_SURROGATE.test(name))
      badArgument('entry.offsets key', 'a well-formed string', name);
    const n = Buffer.byteLength(name, 'utf8');
    if (n > 0xffff) badArgument('entry.offsets key', 'at most 65535 UTF-8 bytes', name);
    checkU64(`entry.offsets[${JSON.stringify(name)}]`, offset);
    length += 2 + n + 8;
  }
  if (watermark !== undefined) {
    if (typeof watermark !== 'bigint' || watermark < MIN_I64 || watermark > MAX_I64)
      badArgument('entry.watermark', 'a bigint in -2^63..2^63-1', watermark);
    length += 8;
  }
  return length;
}

function bodyLengthOf(entry: CoreEntry): number {
  const length = CORE_ENTRY_FIXED + opBodyLength(entry);
  if (length > MAX_FRAME_BODY)
    tooLarge('the core entry frame body', length, MAX_FRAME_BODY, 'split the entry');
  return length;
}

/** Exact bytes `encodeCoreEntryFrame` writes for `entry`. */
export function coreEntryFrameSize(entry: CoreEntry): number {
  return FRAME_HEADER_SIZE + bodyLengthOf(entry);
}

/** Writes one per-core entry frame at `offset`; returns its size; WAL_BAD_ARGUMENT if it does not fit. */
export function encodeCoreEntryFrame(target: Buffer, offset: number, entry: CoreEntry): number {
  const bodyLength = bodyLengthOf(entry);
  const size = FRAME_HEADER_SIZE + bodyLength;
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length)
    frameDoesNotFit(size, offset, target.length);
  let pos = offset + FRAME_HEADER_SIZE;
  target[pos] = BodyKind.CORE_ENTRY;
  target[pos + 1] = OP_CODE[entry.op];
  target.writeUInt16LE(entry.coreId, pos + 2);
  target.writeBigUInt64LE(entry.epoch, pos + 4);
  target.writeBigUInt64LE(entry.sequence, pos + 12);
  target.writeBigUInt64LE(entry.timestampNs, pos + 20);
  pos += CORE_ENTRY_FIXED;
  switch (entry.op) {
    case 'put':
      pos = target.writeUInt32LE(entry.key.length, pos);
      target.set(entry.key, pos);
      target.set(entry.value, pos + entry.key.length);
      break;
    case 'delete':
      target.set(entry.key, pos);
      break;
    case 'checkpoint':
      target.writeBigUInt64LE(entry.checkpointId, pos);
      break;
    case 'commit':
      pos = target.writeUInt32LE(entry.offsets.size, pos);
      for (const [name, value] of entry.offsets) {
        const n = target.write(name, pos + 2, 'utf8');
        target.writeUInt16LE(n, pos);
        pos = target.writeBigUInt64LE(value, pos + 2 + n);
      }
      if (entry.watermark === undefined) target[pos] = 0;
      else {
        target[pos] = 1;
        target.writeBigInt64LE(entry.watermark, pos + 1);
      }
      break;
    case 'epochBarrier':
      break;
  }
  sealFrame(target, offset, bodyLength);
  return size;
}

/** Decodes a per-core entry body in `buf[start..end)`. WAL_CORRUPT if malformed. */
export function decodeCoreEntryAt(buf: Buffer, start: number, end: number): CoreEntry {
  if (end - start < CORE_ENTRY_FIXED) malformed('core entry body shorter than 28 bytes');
  if (buf[start] !== BodyKind.CORE_ENTRY) malformed(`body kind ${buf[start]} is not a core entry`);
  const coreId = buf.readUInt16LE(start + 2);
  const epoch = buf.readBigUInt64LE(start + 4);
  const sequence = buf.readBigUInt64LE(start + 12);
  const timestampNs = buf.readBigUInt64LE(start + 20);
  const head = { coreId, epoch, sequence, timestampNs };
  const pos = start + CORE_ENTRY_FIXED;
  const code = buf[start + 1];
  switch (code) {
    case OP_CODE.put: {
      if (end - pos < 4) malformed('put key length runs past the body');
      const k = buf.readUInt32LE(pos);
      if (k > end - pos - 4) malformed(`put key length ${k} runs past the body`);
      const key = buf.subarray(pos + 4, pos + 4 + k);
      return { op: 'put', key, value: buf.subarray(pos + 4 + k, end), ...head };
    }
    case OP_CODE.delete:
      return { op: 'delete', key: buf.subarray(pos, end), ...head };
    case OP_CODE.checkpoint:
      if (end - pos !== 8) malformed('checkpoint body is not 8 bytes');
      return { op: 'checkpoint', checkpointId: buf.readBigUInt64LE(pos), ...head };
    case OP_CODE.commit:
      return decodeCommit(buf, pos, end, head);
    case OP_CODE.epochBarrier:
      if (end !== pos) malformed('epoch barrier has a body');
      return { op: 'epochBarrier', ...head };
    default:
      return malformed(`unknown core op ${code}`);
  }
}

function decodeCommit(
  buf: Buffer,
  pos: number,
  end: number,
  head: { coreId: number; epoch: bigint; sequence: bigint; timestampNs: bigint },
): CoreEntry {
  if (end - pos < 5) malformed('commit body shorter than 5 bytes');
  const count = buf.readUInt32LE(pos);
  pos += 4;
  if (count > (end - pos) / 10) malformed(`commit count ${count} cannot fit its body`);
  const offsets = new Map<string, bigint>();
  for (let i = 0; i < count; i++) {
    if (end - pos < 2) malformed(`commit entry ${i} runs past the body`);
    const n = buf.readUInt16LE(pos);
    if (n + 10 > end - pos) malformed(`commit entry ${i} runs past the body`);
    let name: string;
    try {
      name = strictUtf8.decode(buf.subarray(pos + 2, pos + 2 + n));
    } catch {
      return malformed(`commit entry ${i} name is not valid UTF-8`);
    }
    if (offsets.has(name)) malformed(`commit names ${JSON.stringify(name)} twice`);
    offsets.set(name, buf.readBigUInt64LE(pos + 2 + n));
    pos += 10 + n;
  }
  if (end - pos < 1) malformed('commit watermark flag runs past the body');
  const has = buf[pos];
  if (has === 0 && end - pos === 1) return { op: 'commit', offsets, ...head };
  if (has === 1 && end - pos === 9)
    return { op: 'commit', offsets, watermark: buf.readBigInt64LE(pos + 1), ...head };
  return malformed('commit watermark is malformed or trailing bytes follow');
}

/** Decodes a per-core entry body (a frame body of kind 0x03). WAL_CORRUPT if malformed. */
export function decodeCoreEntryBody(body: Buffer): CoreEntry {
  return decodeCoreEntryAt(toBuffer(body), 0, body.length);
}

/**
 * The core id and sequence of a per-core entry body, read from its fixed header alone (the
 * operation is not checked): for a walk that checks continuity without building entries.
 * Null for any other body or one too short for the header; padding is `isPaddingBody`'s.
 */
export function coreEntryHead(body: Buffer): { coreId: number; sequence: bigint } | null {
  if (body.length < CORE_ENTRY_FIXED || body[0] !== BodyKind.CORE_ENTRY) return null;
  return { coreId: body.readUInt16LE(2), sequence: body.readBigUInt64LE(12) };
}
