import { BodyKind, FRAME_HEADER_SIZE } from './constants.js';
import { sealFrameAt } from './frame.js';

// A durable mark: a padding frame (kind 0x04, which every reader skips) whose body says up
// to which file offset a completed fdatasync covered the file when the mark was written
// (FORMAT.md "Durable marks"). Recovery reads it to tell zeros in synced bytes, which are
// damage, from a hole that lost unsynced writes left.

/** Kind, the tag `DUR`, and the durable end (u64). */
const BODY_LENGTH = 12;
const TAG = [0x44, 0x55, 0x52];

/** Bytes of a durable mark's frame. */
export const DURABLE_MARK_SIZE = FRAME_HEADER_SIZE + BODY_LENGTH;

/** Writes a durable mark saying bytes `[0, durableEnd)` were durable; returns its size. */
export function encodeDurableMark(target: Buffer, offset: number, durableEnd: number): number {
  const body = offset + FRAME_HEADER_SIZE;
  target[body] = BodyKind.PADDING;
  target.set(TAG, body + 1);
  target.writeBigUInt64LE(BigInt(durableEnd), body + 4);
  sealFrameAt(target, offset, BODY_LENGTH);
  return DURABLE_MARK_SIZE;
}

/**
 * The durable end a padding body `buf[start..end)` states, or -1 when it is not a durable
 * mark (plain padding, whose bytes writers leave zero).
 */
export function durableMarkEnd(buf: Uint8Array, start: number, end: number): number {
  if (end - start !== BODY_LENGTH || buf[start] !== BodyKind.PADDING) return -1;
  if (buf[start + 1] !== TAG[0] || buf[start + 2] !== TAG[1] || buf[start + 3] !== TAG[2])
    return -1;
  const view = new DataView(buf.buffer, buf.byteOffset + start + 4, 8);
  const value = view.getBigUint64(0, true);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(value);
}
