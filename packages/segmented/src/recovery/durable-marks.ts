import { durableMarkEnd, FRAME_HEADER_SIZE, findNextValidFrame } from '@walnut/codec';

/**
 * The highest durable end stated by a durable mark among the valid frames of `bytes` (read
 * from file offset `base`) from index `from` on, or -1. A mark states only what a completed
 * fdatasync covered before it was written, so it never states more than its own offset; one
 * that does was copied from elsewhere (salvage moves frames) and is not believed.
 */
export function highestDurableMark(bytes: Buffer, from: number, base: number): number {
  let highest = -1;
  for (let at = findNextValidFrame(bytes, from); at >= 0; ) {
    const len = bytes.readUInt32LE(at + 4);
    const body = at + FRAME_HEADER_SIZE;
    const end = durableMarkEnd(bytes, body, body + len); // -1 for any frame but a mark
    if (end <= base + at && end > highest) highest = end;
    const next = body + len;
    at = next < bytes.length ? findNextValidFrame(bytes, next) : -1;
  }
  return highest;
}
