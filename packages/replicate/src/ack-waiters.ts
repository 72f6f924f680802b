import type { WalError } from '@walnut/wal';
import type { Fencing } from './fencing.js';

interface Waiter {
  readonly lsn: bigint;
  /** `performance.now()` after which it is rejected. */
  readonly deadline: number;
  readonly resolve: (lsn: bigint) => void;
  readonly reject: (error: unknown) => void;
  readonly onTimeout: (replicated: bigint) => Error;
}

/**
 * The callers waiting for the stream to hold an LSN (a `sync` append, `waitReplicated`,
 * `close`), oldest LSN first, each with its own deadline. One timer serves them all, set
 * for the earliest deadline: a timer per waiter (set, then cleared by nearly every ack)
 * cost a `sync` append more than the rest of its waiting (docs/decisions/0906).
 */
export class AckWaiters {
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (Infinity: no timer). */
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly progress: { readonly replicatedLsn: bigint },
    private readonly fencing: Fencing,
  ) {}

  /**
   * Resolves with `lsn` once the stream holds it; rejects with `onTimeout(replicatedLsn)`
   * after `timeoutMs`, and at once on a fenced primary (it never gets another ack).
   */
  waitFor(
    lsn: bigint,
    timeoutMs: number,
    onTimeout: (replicated: bigint) => Error,
  ): Promise<bigint> {
    if (this.progress.replicatedLsn >= lsn) return Promise.resolve(lsn);
    // Fenced but not yet settled: what the stream holds decides, so the waiter is kept.
    if (this.fencing.final) return Promise.reject(this.fencing.error(lsn));
    return new Promise<bigint>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      const waiter: Waiter = { lsn, deadline, resolve, reject, onTimeout };
      // Appends resolve in LSN order, so this is nearly always a push.
      let at = this.waiters.length;
      while (at > 0 && this.waiters[at - 1]!.lsn > lsn) at--;
      this.waiters.splice(at, 0, waiter);
      if (deadline < this.timerAt) this.arm(deadline);
    });
  }

  /** The stream holds everything up to `lsn`. */
  replicated(lsn: bigint): void {
    let done = 0;
    while (done < this.waiters.length && this.waiters[done]!.lsn <= lsn) {
      const waiter = this.waiters[done]!;
      waiter.resolve(waiter.lsn);
      done++;
    }
    if (done > 0) this.waiters.splice(0, done);
    // The timer of a waiter resolved stays set while others wait: it fires, finds nothing
    // due, and is set again for the earliest deadline left.
    if (this.waiters.length === 0) this.disarm();
  }

  /** Rejects every waiter with `error`, or when null with the fencing error naming its LSN. */
  rejectAll(error: WalError | null): void {
    this.disarm();
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) waiter.reject(error ?? this.fencing.error(waiter.lsn));
  }

  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.expire, Math.max(0, at - performance.now()));
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** Rejects the waiters whose deadline passed; sets the timer for the next deadline. */
  private readonly expire = (): void => {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const expired: Waiter[] = [];
    let kept = 0;
    let next = Number.POSITIVE_INFINITY;
    for (const waiter of this.waiters) {
      if (waiter.deadline <= now) {
        expired.push(waiter);
      } else {
        this.waiters[kept++] = waiter;
        if (waiter.deadline < next) next = waiter.deadline;
      }
    }
    this.waiters.length = kept;
    if (kept > 0) this.arm(next);
    for (const waiter of expired) waiter.reject(waiter.onTimeout(this.progress.replicatedLsn));
  };
}
