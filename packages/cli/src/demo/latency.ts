/** Collects latencies (ms) and reports percentiles; grows without copying per sample. */
export class LatencyRecorder {
  private chunks: Float64Array[] = [new Float64Array(1 << 16)];
  private used = 0;

  record(ms: number): void {
    let chunk = this.chunks.at(-1)!;
    if (this.used === chunk.length) {
      chunk = new Float64Array(chunk.length * 2);
      this.chunks.push(chunk);
      this.used = 0;
    }
    chunk[this.used++] = ms;
  }

  get count(): number {
    return this.chunks.slice(0, -1).reduce((n, c) => n + c.length, 0) + this.used;
  }

  /** Percentiles for p in [0, 100]; NaN when nothing was recorded. */
  percentiles(...ps: number[]): number[] {
    const all = new Float64Array(this.count);
    let at = 0;
    for (const [i, chunk] of this.chunks.entries()) {
      const part = i === this.chunks.length - 1 ? chunk.subarray(0, this.used) : chunk;
      all.set(part, at);
      at += part.length;
    }
    all.sort();
    return ps.map((p) =>
      all.length === 0
        ? Number.NaN
        : all[Math.min(all.length - 1, Math.floor((p / 100) * all.length))]!,
    );
  }
}
