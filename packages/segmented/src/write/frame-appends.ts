import {
  encodePayloadFramesUnsealed,
  FRAME_HEADER_SIZE,
  type FrameCipher,
  payloadFrameSize,
} from '@walnut/codec';
import type { Segment } from '../files/segment.js';
import type { Failures } from './failures.js';
import { checkFrameBody, type Encoder, encodeReserved } from './frame-guard.js';
import type { WritePipeline } from './write-pipeline.js';

// The appends' encodings that are more than one plain frame. SegmentedWal calls these where
// it called methods of its own (once per encrypted frame, once per run of payloads), so the
// move added no call; its one plain frame per record stays inline in the front
// (docs/decisions/0330-segmented-wal-seams.md).

/** An encrypted segment's frame: encoded into scratch space, then encrypted into the buffer. */
export function appendEncrypted<T>(
  p: WritePipeline,
  failures: Failures,
  seg: Segment,
  cipher: FrameCipher,
  encode: Encoder<T>,
  input: T,
  plainSize: number,
  first: bigint,
  count: number,
  what: 'record' | 'batch',
  time: number,
): void {
  const last = first + BigInt(count - 1);
  const size = cipher.encryptedFrameSize(plainSize - FRAME_HEADER_SIZE);
  checkFrameBody(size, what);
  const scratch = p.scratchOf(plainSize);
  encodeReserved(encode, scratch, 0, first, input, plainSize, what, time);
  const at = p.room(size);
  if (failures.poison !== null) throw failures.poison;
  cipher.encryptFrame(p.buf, at, scratch.subarray(FRAME_HEADER_SIZE, plainSize));
  p.commit(seg, size, first, last, count);
}

/**
 * Appends `list[from]` and the payloads after it that fit the write buffer, while `seg` is
 * below `targetSize` (the rule `segmentFor` applies before each frame), in one codec call and
 * one booking; returns the index of the first payload not appended. `restBytes` is the size
 * of the frames of `list[from..count)`, or Infinity if not known. `seg` is not encrypted.
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
