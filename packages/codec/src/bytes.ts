/**
 * Little-endian integer access without the argument checks of Buffer's read/write
 * methods: the hot paths check their bounds once per frame, then use these.
 */
const TWO_32 = 4294967296;

export function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Writes a u64 given as a number in 0..2^53-1. */
export function putSafeU64(b: Uint8Array, o: number, n: number): void {
  putU32(b, o, n >>> 0);
  putU32(b, o + 4, (n / TWO_32) >>> 0);
}

/**
 * Writes a u64 (0..2^64-1); values below 2^53 (every LSN in practice) avoid bigint
 * arithmetic: `Number(v)` is exact below 2^53 and rounds anything larger to 2^53 or more.
 */
export function putU64(b: Buffer, o: number, v: bigint): void {
  const n = Number(v);
  if (n <= Number.MAX_SAFE_INTEGER) putSafeU64(b, o, n);
  else b.writeBigUInt64LE(v, o);
}

/** Reads a u64 as a bigint, with one allocation when it is below 2^53. */
export function getU64(b: Buffer, o: number): bigint {
  const hi = getU32(b, o + 4);
  if (hi < 0x200000) return BigInt(hi * TWO_32 + getU32(b, o));
  return b.readBigUInt64LE(o);
}
