import { WalError, WalErrorCode } from '@walnut/codec';
import type { LogEngine } from '../../engine.js';
import type { Durability } from '../../options.js';
import type { AppendQueue } from '../append/append-queue.js';
import { closedError } from '../refusals.js';
import { drainWithin } from './drain-within.js';
import { outcomeUnknown } from './outcome-unknown.js';
import type { WalStatus } from './wal-status.js';

/** What a Wal's shutdown and close act on. */
export interface ShutdownHost {
  readonly engine: LogEngine;
  readonly status: WalStatus;
  readonly queue: AppendQueue;
  readonly durability: Durability;
  readonly readOnly: boolean;
  /** The log goes no further: stop the interval sync, wake every waiter and tail. */
  stopped(): void;
  /** Stops what runs beside the log (retention, cursors, commits) and closes the engine. */
  release(): Promise<void>;
}

/**
 * How a Wal ends (docs/decisions/0620-wal-seams.md): `shutdown` drains the queue within a
 * timeout and closes, or leaves the log running; `close` stops at once, rejecting every
 * append not yet acknowledged. Both are idempotent.
 */
export class Shutdown {
  private attempt: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly host: ShutdownHost) {}

  shutdown(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const { status } = this.host;
    if (status.closed) return this.closing ?? Promise.resolve();
    if (this.host.readOnly) return this.close();
    if (this.attempt) return this.attempt;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return Promise.reject(
        new WalError(
          WalErrorCode.BAD_ARGUMENT,
          `timeoutMs must be a number of milliseconds ≥ 0 (Infinity: no deadline), got ${timeoutMs}`,
        ),
      );
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(
        new WalError(
          WalErrorCode.BAD_ARGUMENT,
          `shutdown(timeoutMs, { signal }): signal must be an AbortSignal, got ${typeof signal}`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    status.state = 'draining';
    const attempt = this.drainThenClose(timeoutMs, signal);
    this.attempt = attempt;
    attempt.then(
      () => undefined,
      () => {
        if (this.attempt === attempt) this.attempt = undefined;
      },
    );
    return attempt;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.host.status.state = 'closed';
    const error = closedError();
    const kept = this.keepOnClose();
    this.host.queue.rejectAll(kept, error, (lsn) => outcomeUnknown(lsn, 'the log was closed'));
    this.host.stopped();
    this.closing = this.host.release();
    return this.closing;
  }

  /**
   * Settles what is done and drops what can still be dropped as the log closes; returns
   * the highest LSN that may reach the log. Records acknowledged or handed out must not
   * vanish, nor leave a hole below them: everything up to the last of them stays.
   */
  private keepOnClose(): bigint {
    const { durability, engine, queue } = this.host;
    if (durability === 'sync') queue.settle(engine.durableLsn);
    else if (durability === 'flush') queue.settle(engine.writtenLsn);
    if (this.host.status.poison) return engine.submittedLsn;
    const kept = engine.dropUnsubmittedAbove(queue.lastPromised());
    if (kept < queue.lastAssigned) queue.lastAssigned = kept;
    return kept;
  }

  private async drainThenClose(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const status = this.host.status;
    const outcome = await drainWithin(() => this.drain(), timeoutMs, signal);
    if (status.closed) {
      throw new WalError(
        WalErrorCode.CLOSED,
        'close() was called before the shutdown finished draining',
      );
    }
    if (outcome.kind === 'failed') {
      if (status.poison) {
        // Nothing more can be made durable: release the files and report why.
        await this.close();
      } else {
        status.state = 'running';
      }
      throw outcome.error;
    }
    if (outcome.kind === 'aborted') {
      // As a timeout: the log stays open and consistent; the caller said why it stopped.
      status.state = 'running';
      throw signal!.reason;
    }
    if (outcome.kind === 'timeout') {
      status.state = 'running';
      throw new WalError(
        WalErrorCode.TIMEOUT,
        `shutdown did not drain within ${timeoutMs} ms; the log is still open and consistent — call shutdown() again with a longer timeout, or close()`,
      );
    }
    status.state = 'closed';
    this.host.stopped();
    this.closing = this.host.release();
    await this.closing;
  }

  private async drain(): Promise<void> {
    const { queue, status } = this.host;
    const commit = queue.commit;
    await queue.waitUntilUnblocked();
    const poisoned = status.poisonedError();
    if (poisoned) throw poisoned;
    await commit.sync();
    for (let running = commit.running(); running; running = commit.running()) await running;
    if (queue.waiters.count() > 0) await commit.sync();
  }
}
