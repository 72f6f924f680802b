import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * How long a read may run before it lets the event loop turn (decision 0312). Reads of a
 * log in the page cache never wait: a mapping has nothing to wait for, and io_uring
 * completes a cached read at submission. Without slices, a reader catching up on a large
 * log held the loop for all of it, about 1 s per GiB, while every timer, socket and
 * durable append of the process waited. Every package's readers share this one policy.
 */
export const READ_SLICE_MS = 20;

/**
 * Records handed out between two looks at the clock (~50 ns each, measured here). The consumer's time
 * counts too: one that spends 0.2 ms on each record still lets the loop turn every 20–35 ms.
 */
export const RECORDS_PER_LOOK = 64;

/** One reader's time on the event loop since it last let the loop turn. */
export class ReadSlices {
  private ends = performance.now() + READ_SLICE_MS;
  private untilLook = RECORDS_PER_LOOK;

  /**
   * Counts a record handed out: true when the slice is spent, and the reader should
   * `pause()` before it hands out another.
   */
  handedOut(): boolean {
    if (--this.untilLook > 0) return false;
    this.untilLook = RECORDS_PER_LOOK;
    return performance.now() >= this.ends;
  }

  /** Whether the slice is spent: a clock read, for a loop that hands out many records between two. */
  spent(): boolean {
    return performance.now() >= this.ends;
  }

  /**
   * Lets the loop run what waits (timers, I/O, other producers' appends), then starts a new
   * slice. setImmediate, not a timer: a timer's turn costs at least a millisecond.
   */
  async pause(): Promise<void> {
    await nextTurn();
    this.ends = performance.now() + READ_SLICE_MS;
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== undefined &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
