import {
  batchFrameSize,
  encodeBatchFrame,
  encodeFrame,
  encodePayloadFramesUnsealed,
  FRAME_HEADER_SIZE,
  type FrameCipher,
  payloadFrameSize,
  type WalRecordInput,
} from '@walnut/codec';
import type { Segment } from '../files/segment.js';
import type { CompressionGate } from './compression-gate.js';
import type { Failures } from './failures.js';
import { checkFrameBody, type Encoder, encodeReserved } from './frame-guard.js';
import type { WritePipeline } from './write-pipeline.js';

// The appends' encodings that are more than one plain frame. SegmentedWal calls these where
// it called methods of its own (once per encrypted or compressed frame, once per run of payloads), so the
// move added no call; its one plain frame per record stays inline in the front
// (docs/decisions/0330-segmented-wal-seams.md).

/**
 * A frame that is more than its encoding: encoded into scratch space, its body compressed
 * when `compressor` is given (CompressionGate.take: kept only when it shrinks), then
 * encrypted with `cipher`, or copied and sealed, into the buffer. Encryption applies to the
 * compressed bytes and the CRC to the bytes written (FORMAT.md, "Compressed body").
 */
export function appendTransformed<T>(
  p: WritePipeline,
  failures: Failures,
  seg: Segment,
  cipher: FrameCipher | undefined,
  compressor: CompressionGate | undefined,
  encode: Encoder<T>,
  input: T,
  plainSize: number,
  first: bigint,
  count: number,
  what: 'record' | 'batch',
  time: number,
): void {
  const last = first + BigInt(count - 1);
  const scratch = p.scratchOf(plainSize);
  encodeReserved(encode, scratch, 0, first, input, plainSize, what, time);
  let body: Uint8Array = scratch.subarray(FRAME_HEADER_SIZE, plainSize);
  if (compressor !== undefined) body = compressor.compress(body);
  const size =
    cipher === undefined ? FRAME_HEADER_SIZE + body.length : cipher.encryptedFrameSize(body.length);
  checkFrameBody(size, what);
  const at = p.room(size);
  if (failures.poison !== null) throw failures.poison;
  if (cipher === undefined) encodeFrame(p.buf, at, body);
  else cipher.encryptFrame(p.buf, at, body);
  p.commit(seg, size, first, last, count);
}

/**
 * Whether a frame takes `appendTransformed` rather than the plain path: it is encrypted, or
 * its body is to be compressed (`compressor`, from CompressionGate.take).
 */
export function isTransformed(seg: Segment, compressor: CompressionGate | undefined): boolean {
  return seg.writeCipher !== undefined || compressor !== undefined;
}

/** Payload bytes one compressed run of `appendPayloads` holds at most (decision 0118). */
export const COMPRESSED_RUN = 64 * 1024;

/**
 * Where the compressed run of `list` from `from` ends: the payloads whose bytes stay within
 * COMPRESSED_RUN and maxRecordSize (a batch's limit), at least one.
 */
export function compressedRunEnd(
  list: readonly Uint8Array[],
  from: number,
  count: number,
  maxRecordSize: number,
): number {
  const limit = Math.min(COMPRESSED_RUN, maxRecordSize);
  let bytes = list[from]!.length;
  let to = from + 1;
  while (to < count && bytes + list[to]!.length <= limit) bytes += list[to++]!.length;
  return to;
}

/**
 * With compression on, `appendPayloads` writes the run `list[from..to)` as one compressed
 * batch frame: a frame per record would compress each payload alone, at a fraction of the
 * ratio (decision 0118). The run is then atomic, which `appendPayloads` allows.
 */
export function appendCompressedRun(
  p: WritePipeline,
  failures: Failures,
  seg: Segment,
  compressor: CompressionGate,
  list: readonly Uint8Array[],
  from: number,
  to: number,
  time: number,
): void {
  const records: WalRecordInput[] = [];
  for (let i = from; i < to; i++) records.push({ payload: list[i]! });
  const plainSize = batchFrameSize(records, true);
  checkFrameBody(plainSize, 'batch');
  const first = p.nextLsn;
  const { writeCipher } = seg;
  const n = to - from;
  appendTransformed(
    p,
    failures,
    seg,
    writeCipher,
    compressor,
    encodeBatchFrame,
    records,
    plainSize,
    first,
    n,
    'batch',
    time,
  );
}

/**
 * Appends `list[from]` and the payloads after it that fit the write buffer, while `seg` is
 * below `targetSize` (the rule `segmentFor` applies before each frame), in one codec call and
 * one booking; returns the index of the first payload not appended. `restBytes` is the size
 * of the frames of `list[from..count)`, or Infinity if not known. `seg` is not encrypted,
 * and the log does not compress.
 */
export function appendPayloadRun(
  p: WritePipeline,
  failures: Failures,
  seg: Segment,
  list: readonly Uint8Array[],
  from: number,
  count: number,
  restBytes: number,
  targetSize: number,
  time: number,
): number {
  let size = payloadFrameSize(list[from]!, true);
  const at = p.room(size);
  if (failures.poison !== null) throw failures.poison;
  const bufferRoom = p.buf.length - at;
  const segmentRoom = targetSize - seg.assignedEnd;
  let to = from + 1;
  if (restBytes <= bufferRoom && restBytes <= segmentRoom) {
    // All of the rest fits: the loop below would take every payload.
    size = restBytes;
    to = count;
  }
  while (to < count && size < segmentRoom) {
    const next = payloadFrameSize(list[to]!, true);
    if (size + next > bufferRoom) break;
    size += next;
    to++;
  }
  const first = p.nextLsn;
  const encode: Encoder<readonly Uint8Array[]> = (target, offset, lsn, payloads, frameTime) =>
    encodePayloadFramesUnsealed(target, offset, lsn, payloads, from, to, frameTime);
  encodeReserved(encode, p.buf, at, first, list, size, 'record', time);
  p.sealNow(at, size);
  p.commit(seg, size, first, first + BigInt(to - from - 1), to - from);
  return to;
}
