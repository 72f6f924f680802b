import { crc32cJs } from './crc32c-js.js';
import { badArgument } from './errors.js';

/**
 * CRC32C of `buf[start..end)`, continuing `seed` (a previous result; 0 to start fresh).
 * Internal: no argument checks, the caller guarantees the range.
 */
export function crc32cRange(buf: Uint8Array, start: number, end: number, seed: number): number {
  return crc32cJs(buf, start, end, seed);
}

/**
 * CRC32C (Castagnoli) of `data`. Pass a previous result as `seed` to continue it:
 * `crc32c(b, crc32c(a))` equals `crc32c(a ‖ b)`. Returns an unsigned 32-bit number.
 */
export function crc32c(data: Uint8Array, seed = 0): number {
  if (!(data instanceof Uint8Array)) badArgument('data', 'a Uint8Array or Buffer', data);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    badArgument('seed', 'an unsigned 32-bit integer (a previous crc32c result)', seed);
  return crc32cRange(data, 0, data.length, seed);
}
