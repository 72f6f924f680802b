import { badArgument } from '@walnut/codec';

/**
 * Record payloads that say which record they are, so a test can check what a log hands back
 * without keeping a copy of what it wrote: `payloadFor(n, size)` is `n` as 8 bytes
 * (little-endian), then filler that only that `n` and size make. `payloadNumber` reads a
 * payload's `n` back and returns it only when every byte is the one `payloadFor` writes for
 * that `n` and length, so a torn, cut, shifted or mixed-up record is not taken for an intact
 * one. The filler is the check: from 24 bytes on (16 of filler) a chance match is out of reach.
 */
const NUMBER_BYTES = 8;
const MAX_N = 2n ** 64n - 1n;

/** `size` bytes (32 by default) that identify record `n` (0 ≤ n < 2^64); shorter than 8, a prefix. */
export function payloadFor(n: number | bigint, size = 32): Buffer {
  const id = typeof n === 'number' && Number.isSafeInteger(n) ? BigInt(n) : n;
  if (typeof id !== 'bigint' || id < 0n || id > MAX_N)
    badArgument('payloadFor(n)', 'an integer in 0..2^64-1 (a number or a bigint)', n);
  if (!Number.isSafeInteger(size) || size < 0)
    badArgument('payloadFor(n, size)', 'a non-negative integer', size);
  const head = Buffer.alloc(NUMBER_BYTES);
  head.writeBigUInt64LE(id);
  const payload = Buffer.alloc(size);
  head.copy(payload, 0, 0, Math.min(size, NUMBER_BYTES));
  // xorshift32 seeded from both halves of n and the size: a payload cut short or run on is
  // not the payload of that length.
  let x = Number(id & 0xffffffffn) ^ Math.imul(Number(id >> 32n) + 1, 0x9e3779b1);
  x = (x ^ Math.imul(size + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let i = NUMBER_BYTES; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    payload[i] = x & 0xff;
  }
  return payload;
}

/** The `n` whose `payloadFor(n, payload.length)` this is, or null (also for fewer than 8 bytes). */
export function payloadNumber(payload: Uint8Array): bigint | null {
  if (payload.length < NUMBER_BYTES) return null;
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const n = bytes.readBigUInt64LE(0);
  return payloadFor(n, bytes.length).equals(bytes) ? n : null;
}
