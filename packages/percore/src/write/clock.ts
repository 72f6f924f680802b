/** A source of nanosecond timestamps. It may step backwards; writers never do. */
export type Clock = () => bigint;

/** Wall time minus the monotonic clock, taken once per thread when this module loads. */
const WALL_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/**
 * Wall-clock nanoseconds that advance with the monotonic clock: anchored to the Unix epoch
 * once (so timestamps of different workers and runs are comparable, to about a millisecond)
 * and immune to wall-clock steps during a run. One bigint addition per call.
 */
export const wallClockNs: Clock = () => process.hrtime.bigint() + WALL_OFFSET_NS;

/**
 * Per-writer timestamps that never go backwards: each is `max(last + 1, clock())`, so entry
 * timestamps of one core strictly increase even when the clock steps back.
 */
export class MonotonicStamp {
  private last: bigint;

  constructor(
    private readonly clock: Clock,
    last = 0n,
  ) {
    this.last = last;
  }

  /** The last timestamp handed out (or restored from the file). */
  get lastNs(): bigint {
    return this.last;
  }

  next(): bigint {
    const now = this.clock();
    const next = now > this.last ? now : this.last + 1n;
    this.last = next;
    return next;
  }
}
