import { MAX_U64 } from '../format/constants.js';

/**
 * Whether `value` is bytes the log can take: a Uint8Array (a Buffer included) that really is
 * one. A Proxy of a Uint8Array passes `instanceof`, but not `ArrayBuffer.isView`, and reading
 * its `length` throws a TypeError; every layer refuses it with this one test.
 */
export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && ArrayBuffer.isView(value);
}

/**
 * Little-endian integer access without the argument checks of Buffer's read/write
 * methods: the hot paths check their bounds once per frame, then use these.
 */

export function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/**
 * `Uint8Array.prototype.set` called through a constant: in optimised code `target.set(…)`
 * on a Buffer looks `set` up through a generic inline cache each time (~90 instructions
 * per call, perf stat), where a constant function is called directly.
 */
const typedArraySet = Uint8Array.prototype.set;

/** Copies `source` into `target` at `at` (the caller checked that it fits). */
export function copyInto(target: Uint8Array, source: Uint8Array, at: number): void {
  typedArraySet.call(target, source, at);
}

let viewTarget: Uint8Array | null = null;
let targetView: DataView = new DataView(new ArrayBuffer(0));

/**
 * A DataView over `target`'s bytes, for the encoders' little-endian stores: V8 compiles
 * `setUint32` into one store behind one bounds check where `putU32` pays four, which made
 * a 128-byte record frame ~170 of ~780 instructions cheaper (perf stat). The view of the
 * last target is kept, so a buffer written into over and over gets one view; this keeps
 * that buffer's memory reachable until the encoders write into another. A view with an
 * explicit length is the fast kind, so a target over a resizable or growable buffer,
 * whose length can change under a kept view, gets a new view on every call.
 */
export function viewOf(target: Uint8Array): DataView {
  return target === viewTarget ? targetView : newViewOf(target);
}

function newViewOf(target: Uint8Array): DataView {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  const memory = target.buffer as { resizable?: boolean; growable?: boolean };
  if (memory.resizable !== true && memory.growable !== true) {
    viewTarget = target;
    targetView = view;
  }
  return view;
}

export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/**
 * A bigint goes into a BigUint64Array and comes out as two u32 halves: V8 compiles that
 * store inline, while `Number(bigint)` calls into the runtime (measured: ~60 → ~30 cycles
 * per u64 in a loop, perf stat).
 */
const u64Scratch = new BigUint64Array(1);
const u64Halves = new Uint32Array(u64Scratch.buffer);
u64Scratch[0] = 1n;
/** Index of the low half in `u64Halves`: the platform's byte order. */
const LOW = u64Halves[0] === 1 ? 0 : 1;
const HIGH = 1 - LOW;

/** True when `v` is a bigint in 0..2^64-1 (compares without allocating). */
export function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= MAX_U64;
}

/** Low 32 bits of `v` (0..2^64-1, checked by the caller); `highU32Last()` gives the high ones. */
export function lowU32(v: bigint): number {
  u64Scratch[0] = v;
  return u64Halves[LOW]!;
}

/** High 32 bits of the value last given to `lowU32`. */
export function highU32Last(): number {
  return u64Halves[HIGH]!;
}

/** Writes a u64 (0..2^64-1, checked by the caller). */
export function putU64(b: Uint8Array, o: number, v: bigint): void {
  putU32(b, o, lowU32(v));
  putU32(b, o + 4, u64Halves[HIGH]!);
}
