import { endianness } from 'node:os';

/** The streams' files hold numbers little-endian; on a big-endian host they are swapped. */
export const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * `count` little-endian `f64`s at `buf[at..]`: a view where the host and the alignment
 * allow (so the caller may keep it only if `buf` owns its memory), else a copy.
 */
export function float64s(buf: Buffer, at: number, count: number): Float64Array {
  if (LITTLE_ENDIAN && (buf.byteOffset + at) % 8 === 0)
    return new Float64Array(buf.buffer, buf.byteOffset + at, count);
  const values = new Float64Array(count);
  const view = Buffer.from(values.buffer);
  buf.copy(view, 0, at, at + view.length);
  if (!LITTLE_ENDIAN) view.swap64();
  return values;
}
