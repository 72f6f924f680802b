/** A source of nanosecond timestamps. It may step backwards; writers never do. */
export type Clock = () => bigint;

const NS_PER_MS = 1_000_000;

/**
 * Wall-clock nanoseconds derived from `performance.timeOrigin + performance.now()`: anchored
 * to the Unix epoch (so timestamps of different workers are comparable) and monotonic within
 * one thread (so a wall-clock step during a run does not show up).
 */
export const wallClockNs: Clock = () => {
  const ms = performance.timeOrigin + performance.now();
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.floor((ms - whole) * NS_PER_MS));
};

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
