/**
 * The floor's own record framing: [len u32 LE][crc32c(payload) u32 LE][payload].
 * It is what a careful Node developer writes in an afternoon; Walnut's format is richer.
 */
import type { Crc32c } from './crc.js';

export const FRAME_HEADER_BYTES = 8;

/** Writes one frame at `offset` of `target` (which must have room) and returns the new offset. */
export function encodeFrame(
  target: Buffer,
  offset: number,
  payload: Uint8Array,
  crc32c: Crc32c,
): number {
  target.writeUInt32LE(payload.byteLength, offset);
  target.writeUInt32LE(crc32c(payload), offset + 4);
  target.set(payload, offset + FRAME_HEADER_BYTES);
  return offset + FRAME_HEADER_BYTES + payload.byteLength;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * Parses every complete frame in `chunk[0, end)`, verifying each CRC, and hands each payload
 * (a view into `chunk`) to `visit`. Returns where the first incomplete frame starts.
 */
export function parseFrames(
  chunk: Buffer,
  end: number,
  crc32c: Crc32c,
  visit: (payload: Uint8Array) => void,
): number {
  let offset = 0;
  while (end - offset >= FRAME_HEADER_BYTES) {
    const length = chunk.readUInt32LE(offset);
    const start = offset + FRAME_HEADER_BYTES;
    if (end - start < length) break;
    const payload = chunk.subarray(start, start + length);
    if (crc32c(payload) !== chunk.readUInt32LE(offset + 4)) {
      throw new FrameError(`CRC mismatch in the frame at chunk offset ${offset}`);
    }
    visit(payload);
    offset = start + length;
  }
  return offset;
}
