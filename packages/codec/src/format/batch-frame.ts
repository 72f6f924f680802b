import { badArgument } from '../errors/errors.js';
import { copyInto, putU32, putU64 } from '../values/bytes.js';
import { tooLarge } from '../values/validate.js';
import {
  BATCH_BODY_FIXED,
  BATCH_ENTRY_FIXED,
  BatchFlag,
  BodyKind,
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY,
  MAX_LSN,
  MAX_U32,
  TIME_FIELD_SIZE,
} from './constants.js';
import { sealFrameAt } from './frame.js';
import { checkedTime, checkFits, checkLsn, timeBytes, writeOptional } from './frame-writing.js';
import {
  checkedPayload,
  checkedType,
  forgetPresent,
  inspectOptional,
  type OptionalFields,
  present,
  type WalRecordInput,
} from './record-input.js';

// The atomic batch frame (kind 0x02): every record of it survives a crash, or none does.

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
