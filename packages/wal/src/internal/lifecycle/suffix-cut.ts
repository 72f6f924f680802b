import { WalError, WalErrorCode } from '@walnut/codec';
import type { SuffixCuts, TruncateAfterResult } from '@walnut/segmented';
import type { LogEngine } from '../../engine.js';
import type { AppendQueue } from '../append/append-queue.js';
import { cuttingError, isUsageError } from '../refusals.js';
import type { FailureHandling } from './failure-handling.js';
import type { WalStatus } from './wal-status.js';

/** What a Wal's truncateAfter acts on. */
export interface CutHost {
  readonly engine: LogEngine;
  readonly status: WalStatus;
  readonly cuts: SuffixCuts;
  readonly queue: AppendQueue;
  readonly failures: FailureHandling;
  /** The Wal's sync(): everything appended before the cut durable and resolved. */
  sync(): Promise<bigint>;
  /** The log moved back: wake every waiter and reader to see it. */
  moved(): void;
}

/**
 * A Wal's `truncateAfter` (docs/decisions/0640-wal-truncate-after.md) once the call was
 * checked: one cut at a time, appends refused while it runs, and the cut under way for
 * close and the readers to wait on.
 */
export class CutRun {
  /** The truncateAfter under way: close and shutdown let it finish before the engine closes. */
  private running: Promise<TruncateAfterResult> | undefined;

  constructor(private readonly host: CutHost) {}

  async run(lsn: bigint): Promise<TruncateAfterResult> {
    const { engine, status } = this.host;
    if (engine.truncateAfter === undefined) {
      throw new WalError(WalErrorCode.BAD_STATE, "this log's engine cannot cut its suffix");
    }
    if (status.cutting) throw cuttingError();
    status.cutting = true;
    const cut = this.cutAfter(lsn, engine.truncateAfter.bind(engine));
    this.running = cut;
    try {
      return await cut;
    } finally {
      status.cutting = false;
      this.running = undefined;
    }
  }

  /** Resolves once no cut is under way (whether it succeeded or not). */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async cutAfter(
    lsn: bigint,
    truncateAfter: NonNullable<LogEngine['truncateAfter']>,
  ): Promise<TruncateAfterResult> {
    const host = this.host;
    await host.sync();
    if (host.status.closed) {
      throw WalError.closed('the log', 'nothing was cut; open it again and cut then', {
        why: 'it closed before truncateAfter began to cut',
      });
    }
    const result = await truncateAfter(lsn).catch((error: unknown) => {
      if (!isUsageError(error)) host.failures.engineFailed(error);
      throw error;
    });
    if (result.recordsRemoved > 0n) {
      host.cuts.record(lsn);
      host.queue.cutTo(lsn);
      host.moved();
    }
    return result;
  }
}
