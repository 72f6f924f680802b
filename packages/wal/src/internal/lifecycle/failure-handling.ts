import { isWalError, WalError, WalErrorCode } from '@walnut/codec';
import type { LogEngine } from '../../engine.js';
import type { Durability } from '../../options.js';
import type { WalCounters } from '../../wal-stats.js';
import type { AppendQueue } from '../append/append-queue.js';
import { channels } from '../channels.js';
import { poisonedError, withRetryable } from '../refusals.js';
import { outcomeUnknown } from './outcome-unknown.js';
import type { WalStatus } from './wal-status.js';

/** What failure handling acts on. */
export interface FailureHost {
  readonly dir: string;
  readonly durability: Durability;
  readonly engine: LogEngine;
  readonly status: WalStatus;
  readonly queue: AppendQueue;
  readonly counters: WalCounters;
  /** The log goes no further: stop the interval sync, wake every waiter and tail. */
  stopped(): void;
}

/**
 * How a Wal takes a failure (docs/decisions/0620-wal-seams.md): an append the engine
 * refused, a failed commit, a rollback the engine reports. A full disk leaves the log
 * usable; anything else poisons it, and the poison is never cleared.
 */
export class FailureHandling {
  constructor(private readonly host: FailureHost) {}

  /**
   * An append to the engine threw: counts it, poisons the log if it must; the error to
   * reject with, which says whether the append can be retried (`details.retryable`).
   */
  appendFailed(error: unknown): unknown {
    this.host.counters.rejected++;
    if (
      isWalError(error, WalErrorCode.BAD_ARGUMENT) ||
      isWalError(error, WalErrorCode.RECORD_TOO_LARGE) ||
      isWalError(error, WalErrorCode.LSN_MISMATCH)
    ) {
      return error;
    }
    if (isWalError(error, WalErrorCode.NO_SPACE)) {
      // A rollback is under way. If its cut takes a record a caller was already told of,
      // the log is lost now, not when the rollback ends: "free space and retry" would be
      // a promise nothing can keep.
      const lostFrom = error.details.lostFromLsn;
      const promised = this.host.queue.lastPromised();
      if (typeof lostFrom === 'bigint' && lostFrom <= promised) {
        this.engineFailed(this.acknowledgedLost(lostFrom, promised, error));
        return this.host.status.poisonedError();
      }
      this.engineFailed(error);
      return withRetryable(error, true);
    }
    this.engineFailed(error);
    return isWalError(error, WalErrorCode.POISONED) ? withRetryable(error, false) : error;
  }

  private acknowledgedLost(from: bigint, to: bigint, cause: WalError): WalError {
    const { durability, queue } = this.host;
    const how = to === queue.lastHandedOut ? ', appendQueued' : '';
    return WalError.poisoned(
      `records ${from}..${to} were acknowledged (durability '${durability}'${how}) but lost when a write failed for lack of space; reopen the log`,
      cause,
    );
  }

  /**
   * A failed commit. ENOSPC leaves the engine consistent: the records it rolled back are
   * rejected (never acknowledged) and the log goes on. Anything else — above all a
   * failed fdatasync — poisons the log: a waiter whose bytes went to the OS gets
   * WAL_OUTCOME_UNKNOWN (caused by the failure), the rest — never written, as a poisoned
   * log writes nothing more — and every later append WAL_POISONED.
   */
  engineFailed(error: unknown): void {
    const { status, queue } = this.host;
    if (status.poison) return;
    if (isWalError(error, WalErrorCode.NO_SPACE)) {
      // The engine's onRollback already rejected the records it lost. The queue is recounted from zero: what is left was written and only needs a sync.
      queue.bytesSettled = queue.bytesAppended;
      return;
    }
    const poison =
      error instanceof WalError
        ? error
        : new WalError(WalErrorCode.IO, `the log's storage failed: ${String(error)}`, {
            cause: error,
          });
    status.poison = poison;
    const poisoned = poisonedError(poison);
    const dir = this.host.dir;
    if (channels.poison.hasSubscribers) channels.poison.publish({ dir, error: poison });
    const why = `the log was poisoned (${poison.message})`;
    queue.rejectAll(this.host.engine.submittedLsn, poisoned, (lsn) =>
      outcomeUnknown(lsn, why, error),
    );
    this.host.stopped();
  }

  /** The engine's last LSN went back to `engineLast`: later records were lost unacknowledged. */
  rolledBack(engineLast: bigint, cause: WalError): void {
    const queue = this.host.queue;
    if (engineLast >= queue.lastAssigned) return;
    if (channels.rollback.hasSubscribers) {
      channels.rollback.publish({
        dir: this.host.dir,
        fromLsn: engineLast + 1n,
        toLsn: queue.lastAssigned,
        error: cause,
      });
    }
    const lost = queue.rolledBack(engineLast, withRetryable(cause, true));
    if (lost !== undefined) {
      // Records already acknowledged (durability 'none'/'interval', or appendQueued) were
      // lost and their LSNs would be handed out again: the log cannot go on honestly.
      this.engineFailed(this.acknowledgedLost(engineLast + 1n, lost, cause));
    }
  }
}
