/**
 * Exponential backoff with jitter for retries against the cluster: 100 ms doubling to
 * 5 s. A loop that retried at once made ~950 k failed publishes a minute against a dead
 * cluster; with this, a minute of outage costs a few dozen attempts.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 100,
    private readonly maxMs = 5_000,
  ) {}

  /** The wait before the next attempt (and counts the failure). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 16));
    this.failures++;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
