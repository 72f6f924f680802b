import { HttpError } from './errors.js';

/**
 * Live readers (long-poll and SSE) waiting for a stream to change. Every write the handler
 * makes wakes that stream's waiters; their number is bounded, so a crowd of idle
 * connections is refused with 503 rather than held without limit.
 */
export class Waiters {
  private readonly byStream = new Map<string, Set<() => void>>();
  private count = 0;
  private closed = false;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.count;
  }

  /** Throws 503 when `max` waiters are already waiting. */
  reserve(): void {
    if (this.closed) throw new HttpError(503, 'the server is shutting down; retry');
    if (this.count >= this.max) {
      throw new HttpError(
        503,
        `too many live readers (${this.max}); retry later or raise maxLiveReaders`,
        { 'retry-after': '1' },
      );
    }
  }

  /**
   * Resolves `true` when `key` changes, `false` after `timeoutMs`, when `signal` aborts or
   * when the server drains.
   */
  wait(key: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.closed || signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.byStream.get(key);
      if (set === undefined) {
        set = new Set();
        this.byStream.set(key, set);
      }
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        if (set!.delete(wake)) this.count--;
        if (set!.size === 0 && this.byStream.get(key) === set) this.byStream.delete(key);
        resolve(changed);
      };
      const wake = () => done(!this.closed);
      const aborted = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(wake);
      this.count++;
      signal.addEventListener('abort', aborted, { once: true });
    });
  }

  notify(key: string): void {
    const set = this.byStream.get(key);
    if (set !== undefined) for (const wake of [...set]) wake();
  }

  /** Ends every wait: live readers answer at once, and no new wait starts. */
  close(): void {
    this.closed = true;
    for (const key of [...this.byStream.keys()]) this.notify(key);
  }
}
