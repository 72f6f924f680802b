const SUB_BUCKETS = 16;
const MAGNITUDES = 40;

/**
 * A fixed-size log-linear histogram of durations in microseconds (16 sub-buckets per
 * power of two, so a percentile is within ~6% of the true value). Recording is a few
 * arithmetic operations and no allocation.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(MAGNITUDES * SUB_BUCKETS);
  private total = 0;

  get count(): number {
    return this.total;
  }

  record(micros: number): void {
    this.counts[bucketOf(micros)]!++;
    this.total++;
  }

  /** The value below which `fraction` (0..1) of the recorded durations fall; 0 when empty. */
  percentile(fraction: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return upperBoundOf(i);
    }
    return upperBoundOf(this.counts.length - 1);
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }
}

/** Integer arithmetic (clz32, shifts): this runs once per acknowledged append. */
function bucketOf(micros: number): number {
  if (!(micros >= 1)) return 0;
  if (micros >= 2 ** 32) {
    const magnitude = Math.floor(Math.log2(micros)) - 3;
    const sub = Math.floor(micros / 2 ** (magnitude - 1)) - SUB_BUCKETS;
    return Math.min(magnitude * SUB_BUCKETS + sub, MAGNITUDES * SUB_BUCKETS - 1);
  }
  const value = micros >>> 0;
  if (value < SUB_BUCKETS) return value;
  const magnitude = 28 - Math.clz32(value);
  return magnitude * SUB_BUCKETS + (value >>> (magnitude - 1)) - SUB_BUCKETS;
}

function upperBoundOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket + 1;
  const magnitude = Math.floor(bucket / SUB_BUCKETS);
  const sub = bucket % SUB_BUCKETS;
  return (sub + SUB_BUCKETS + 1) * 2 ** (magnitude - 1);
}
