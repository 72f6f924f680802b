import type { WalError } from '@walnut/wal';
import { LsnWaiters } from '../cluster/lsn-waiters.js';
import type { Fencing } from './fencing.js';

/**
 * The callers waiting for the stream to hold an LSN (a `sync` append, `waitReplicated`,
 * `close`), oldest LSN first, each with its own deadline.
 */
export class AckWaiters {
  private readonly waiters = new LsnWaiters();

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
    return this.waiters.add(lsn, timeoutMs, () => onTimeout(this.progress.replicatedLsn), signal);
  }

  /** The stream holds everything up to `lsn`. */
  replicated(lsn: bigint): void {
    this.waiters.reached(lsn);
  }

  /**
   * Rejects every waiter with `error` (built for its LSN when a function), or when null with
   * the fencing error naming its LSN.
   */
  rejectAll(error: WalError | ((lsn: bigint) => WalError) | null): void {
    this.waiters.rejectAll(error ?? ((lsn: bigint) => this.fencing.error(lsn)));
  }
}
