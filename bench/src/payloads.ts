/**
 * Seeded random payloads. All bytes are generated before the timed part starts, so the
 * generator's cost is never measured, and every contender gets byte-identical records.
 */

/** xorshift128: fast, seedable, good enough to defeat compression. */
function fillRandom(target: Uint8Array, seed: number): void {
  let x = seed | 0 || 1;
  let y = 0x9e3779b9 | 0;
  let z = 0x243f6a88 | 0;
  let w = 0xb7e15162 | 0;
  const words = new Uint32Array(target.buffer, target.byteOffset, target.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
    words[i] = w;
  }
  for (let i = words.length << 2; i < target.byteLength; i++) target[i] = i * 31 + seed;
}

export class PayloadSet {
  readonly count: number;
  readonly size: number;
  private readonly bytes: Buffer;

  constructor(count: number, size: number, seed: number) {
    this.count = count;
    this.size = size;
    // Allocated outside the JS heap (and 4-byte aligned) so that the generator can work on words.
    this.bytes = Buffer.allocUnsafeSlow(count * size);
    fillRandom(this.bytes, seed);
  }

  /** Payload `i` as a view; each call returns a distinct object that a contender may keep. */
  get(i: number): Buffer {
    const start = i * this.size;
    return this.bytes.subarray(start, start + this.size);
  }

  /** The digest a complete, in-order replay of this set must produce. */
  expectedDigest(): number {
    const digest = new ReplayDigest();
    for (let i = 0; i < this.count; i++) digest.add(this.get(i));
    return digest.value;
  }
}

/**
 * An order-sensitive digest of a replay that touches only a record's length and its first and
 * last bytes, so that checking the result costs almost nothing inside the timed loop.
 */
export class ReplayDigest {
  value = 0x811c9dc5;
  records = 0;
  bytes = 0;

  add(payload: Uint8Array): void {
    const n = payload.byteLength;
    let h = Math.imul(this.value ^ n, 0x01000193);
    if (n > 0) h = Math.imul(h ^ payload[0]! ^ (payload[n - 1]! << 8), 0x01000193);
    this.value = h >>> 0;
    this.records++;
    this.bytes += n;
  }
}
