import { getU32 } from '../values/bytes.js';

const TWO_32 = 2 ** 32;

/**
 * The LSN a walk over a log expects next, held as two 32-bit halves so that comparing it
 * with a frame's LSN field costs no bigint per frame (recovery checks every frame of a log
 * on open). `FrameScanner.passLsnRun` advances it.
 */
export class LsnSequence {
  /** Low and high 32 bits of the next LSN. */
  low: number;
  high: number;

  constructor(next: bigint) {
    this.low = Number(next & 0xffffffffn);
    this.high = Number(next >> 32n);
  }

  /** Whether the u32 pair at `buf[at..at+8)` (little-endian) is the next LSN. */
  isNextAt(buf: Uint8Array, at: number): boolean {
    return getU32(buf, at) === this.low && getU32(buf, at + 4) === this.high;
  }

  /** Moves past `count` records (count < 2^32). */
  advance(count: number): void {
    const low = this.low + count;
    if (low < TWO_32) {
      this.low = low;
      return;
    }
    this.high += Math.floor(low / TWO_32);
    this.low = low % TWO_32;
  }

  /** The next LSN. */
  get next(): bigint {
    return (BigInt(this.high) << 32n) + BigInt(this.low);
  }
}
