/** A set of LSNs kept as sorted closed ranges: millions of consecutive LSNs cost one entry. */
export class LsnRanges {
  private readonly ranges: [bigint, bigint][] = [];

  /** Adds an LSN; LSNs are expected in increasing order (out-of-order ones start a new range). */
  add(lsn: bigint): void {
    const last = this.ranges.at(-1);
    if (last && lsn === last[1] + 1n) last[1] = lsn;
    else if (!last || lsn > last[1]) this.ranges.push([lsn, lsn]);
  }

  has(lsn: bigint): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = this.ranges[mid]!;
      if (lsn < a) hi = mid - 1;
      else if (lsn > b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  get count(): bigint {
    return this.ranges.reduce((sum, [a, b]) => sum + (b - a + 1n), 0n);
  }

  list(): readonly (readonly [bigint, bigint])[] {
    return this.ranges;
  }

  /** The LSNs of this set that `other` lacks. */
  minus(other: LsnRanges): LsnRanges {
    const out = new LsnRanges();
    const cuts = other.ranges;
    let j = 0;
    for (const [a, b] of this.ranges) {
      let from = a;
      while (j < cuts.length && cuts[j]![1] < from) j++;
      for (let k = j; k < cuts.length && cuts[k]![0] <= b && from <= b; k++) {
        const [ca, cb] = cuts[k]!;
        if (ca > from) out.ranges.push([from, ca - 1n]);
        if (cb + 1n > from) from = cb + 1n;
      }
      if (from <= b) out.ranges.push([from, b]);
    }
    return out;
  }

  toString(): string {
    return this.ranges.map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(', ');
  }
}
