import { type Compression, compressBody, MIN_COMPRESSED_BODY } from '@walnut/codec';

/** Bodies in a row that compress to more than WORTH of their size before the gate skips. */
export const MISSES_TO_SKIP = 8;
/** While skipping, one body in this many is tried, to see whether the data changed. */
export const RETRY_EVERY = 64;
/** A body compressed to more than this share of its size counted as a miss (7/8). */
const WORTH = 0.875;

/**
 * Whether a compressing writer tries the next body (decision 0119). Data that does not
 * compress (random, already compressed, encrypted by the application) cost a zstd call per
 * frame for nothing: W1 on random payloads ran at 0.26x the records/s without compression.
 * After MISSES_TO_SKIP bodies in a row that shrank by less than 1/8, bodies are written as
 * they are, save one in RETRY_EVERY, and the first that shrinks well turns trying back on.
 * It changes which frames are compressed, never how: every frame is as readable as before.
 */
export class CompressionGate {
  private misses = 0;
  private skipped = 0;

  constructor(readonly compression: Compression) {}

  /** This gate when a body of `bodySize` bytes is to be tried, else undefined. */
  take(bodySize: number): CompressionGate | undefined {
    if (bodySize < MIN_COMPRESSED_BODY) return undefined;
    if (this.misses < MISSES_TO_SKIP) return this;
    return ++this.skipped % RETRY_EVERY === 0 ? this : undefined;
  }

  /** `plain` compressed when that makes it smaller (else `plain`), the outcome counted. */
  compress(plain: Uint8Array): Uint8Array {
    const packed = compressBody(plain, this.compression);
    if (packed !== null && packed.length <= plain.length * WORTH) {
      this.misses = 0;
      this.skipped = 0;
    } else {
      this.misses++;
    }
    return packed ?? plain;
  }
}
