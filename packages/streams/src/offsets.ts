import { StreamErrorCode, streamError } from './errors.js';

/**
 * Stream offsets are the positions of a stream's records, 0 for its first; a stream's tail
 * is the offset its next record gets. The string form is the decimal number padded to 16
 * digits, so strings sort as the offsets do (2^53 has 16 digits).
 */
const WIDTH = 16;

export type Offset = number | string;

export function formatOffset(offset: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0) throw badOffset(offset);
  return String(offset).padStart(WIDTH, '0');
}

/** An offset given as a number or in its string form, as a number. */
export function parseOffset(offset: Offset): number {
  if (typeof offset === 'string') {
    if (!/^\d{16}$/.test(offset)) throw badOffset(offset);
    const value = Number(offset);
    if (!Number.isSafeInteger(value)) throw badOffset(offset);
    return value;
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw badOffset(offset);
  return offset;
}

function badOffset(offset: unknown) {
  return streamError(
    StreamErrorCode.BAD_OFFSET,
    `offset must be a non-negative safe integer or its 16-digit string form (formatOffset), got ${JSON.stringify(offset) ?? String(offset)}`,
    { given: String(offset) },
  );
}
