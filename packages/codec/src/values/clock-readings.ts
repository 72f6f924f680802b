/** Calls of one synchronous run of JavaScript that share a reading of the wall clock. */
const READING_SHARED = 16;

/**
 * Readings of a clock for stamping appends. `Date.now` costs ~70 ns on this project's VM, a
 * seventh of a buffered append, so one reading of it serves up to READING_SHARED calls of
 * one synchronous run of JavaScript: the first reading queues one microtask that ends the
 * sharing, so after an `await`, a timer or an I/O callback the next call reads again
 * (decision 0916). Any other clock is the caller's (a test's fake clock may move between
 * two calls of one job) and is read every time. A clock that throws throws from `read`.
 */
export class ClockReadings {
  private last = 0;
  /** Calls that may still return `last` without a reading (the wall clock only). */
  private reuses = 0;
  private expiryQueued = false;
  private readonly shared: boolean;

  constructor(private readonly clock: () => number) {
    this.shared = clock === Date.now;
  }

  read(): number {
    if (this.reuses > 0) {
      this.reuses--;
      return this.last;
    }
    const t = this.clock();
    if (this.shared) this.share(t);
    return t;
  }

  /** The next READING_SHARED - 1 calls reuse `t`, until the current job ends. */
  private share(t: number): void {
    this.last = t;
    this.reuses = READING_SHARED - 1;
    if (this.expiryQueued) return;
    this.expiryQueued = true;
    queueMicrotask(this.expire);
  }

  private readonly expire = (): void => {
    this.expiryQueued = false;
    this.reuses = 0;
  };
}
