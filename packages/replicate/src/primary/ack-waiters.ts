import type { WalError } from '@walnut/wal';
import { whenAborted } from '../options.js';
import type { Fencing } from './fencing.js';

interface Waiter {
  readonly lsn: bigint;
  readonly resolve: (lsn: bigint) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The callers waiting for the stream to hold an LSN (a `sync` append, `waitReplicated`,
 * `close`), oldest LSN first, each with its own deadline.
 */
export class AckWaiters {
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly progress: { readonly replicatedLsn: bigint },
    private readonly fencing: Fencing,
  ) {}

  /**
   * Resolves with `lsn` once the stream holds it; rejects with `onTimeout(replicatedLsn)`
   * after `timeoutMs`, at once on a fenced primary (it never gets another ack), and with the
   * signal's reason once `signal` aborts (at once if it has).
   */
  waitFor(
    lsn: bigint,
    timeoutMs: number,
    onTimeout: (replicated: bigint) => Error,
    signal?: AbortSignal,
  ): Promise<bigint> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.progress.replicatedLsn >= lsn) return Promise.resolve(lsn);
    // Fenced but not yet settled: what the stream holds decides, so the waiter is kept.
    if (this.fencing.final) return Promise.reject(this.fencing.error(lsn));
    return new Promise<bigint>((resolve, reject) => {
      const giveUp = (error: unknown) => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        clearTimeout(waiter.timer);
        waiter.reject(error);
      };
      const release = whenAborted(signal, giveUp);
      const waiter: Waiter = {
        lsn,
        resolve: (at) => {
          release();
          resolve(at);
        },
        reject: (error) => {
          release();
          reject(error);
        },
        timer: setTimeout(() => giveUp(onTimeout(this.progress.replicatedLsn)), timeoutMs),
      };
      // Appends resolve in LSN order, so this is nearly always a push.
      let at = this.waiters.length;
      while (at > 0 && this.waiters[at - 1]!.lsn > lsn) at--;
      this.waiters.splice(at, 0, waiter);
    });
  }

  /** The stream holds everything up to `lsn`. */
  replicated(lsn: bigint): void {
    let done = 0;
    while (done < this.waiters.length && this.waiters[done]!.lsn <= lsn) {
      const waiter = this.waiters[done]!;
      clearTimeout(waiter.timer);
      waiter.resolve(waiter.lsn);
      done++;
    }
    if (done > 0) this.waiters.splice(0, done);
  }

  /**
   * Rejects every waiter with `error` (built for its LSN when a function), or when null with
   * the fencing error naming its LSN.
   */
  rejectAll(error: WalError | ((lsn: bigint) => WalError) | null): void {
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(
        error === null
          ? this.fencing.error(waiter.lsn)
          : typeof error === 'function'
            ? error(waiter.lsn)
            : error,
      );
    }
  }
}
