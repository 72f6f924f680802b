/**
 * A latency histogram with quarter-octave buckets (each about 19 % wide) from 1 µs up:
 * fixed memory, O(1) record, percentiles good to a bucket.
 */
const BUCKETS = 4 * 40;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private maxMicros = 0;

  record(micros: number): void {
    const index = micros <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log2(micros) * 4));
    this.counts[index]!++;
    this.total++;
    if (micros > this.maxMicros) this.maxMicros = micros;
  }

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxMicros;
  }

  /** The upper bound (µs) of the bucket holding the p-th percentile (p in 0..100); 0 when empty. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(2 ** (i / 4), this.maxMicros);
    }
    return this.maxMicros;
  }
}
