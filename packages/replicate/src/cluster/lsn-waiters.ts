import { whenAborted } from '../options.js';

interface Waiter {
  readonly lsn: bigint;
  readonly resolve: (lsn: bigint) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Callers waiting for a position to reach an LSN (a primary's stream holding it, a
 * follower applying it), oldest LSN first, each with its own deadline and signal.
 */
export class LsnWaiters {
  private readonly waiters: Waiter[] = [];

  /**
   * Resolves with `lsn` once `reached` passes it; rejects with `onTimeout()` after
   * `timeoutMs`, and with the signal's reason once `signal` aborts.
   */
  add(
    lsn: bigint,
    timeoutMs: number,
    onTimeout: () => Error,
    signal?: AbortSignal,
  ): Promise<bigint> {
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
        timer: setTimeout(() => giveUp(onTimeout()), timeoutMs),
      };
      // Positions pass LSNs in order, so this is nearly always a push.
      let at = this.waiters.length;
      while (at > 0 && this.waiters[at - 1]!.lsn > lsn) at--;
      this.waiters.splice(at, 0, waiter);
    });
  }

  /** The position reached `lsn`: every waiter for it or an earlier LSN resolves. */
  reached(lsn: bigint): void {
    let done = 0;
    while (done < this.waiters.length && this.waiters[done]!.lsn <= lsn) {
      const waiter = this.waiters[done]!;
      clearTimeout(waiter.timer);
      waiter.resolve(waiter.lsn);
      done++;
    }
    if (done > 0) this.waiters.splice(0, done);
  }

  /** Rejects every waiter with `error`, or with what `error` builds for its LSN. */
  rejectAll(error: Error | ((lsn: bigint) => Error)): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(typeof error === 'function' ? error(waiter.lsn) : error);
    }
  }
}
