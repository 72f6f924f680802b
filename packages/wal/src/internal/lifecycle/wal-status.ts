import type { WalError } from '@walnut/codec';
import type { WalState } from '../../wal-stats.js';
import {
  closedError,
  closingError,
  cuttingError,
  notOpenError,
  poisonedError,
  readOnlyError,
} from '../refusals.js';

/**
 * Where a Wal is in its life and whether a failure poisoned it: what every call checks
 * before it touches the queue or the engine, and the one place that turns the two into
 * the error a refused call gets.
 */
export class WalStatus {
  state: WalState = 'init';
  /** The failure that poisoned the log (a failed fdatasync, above all); never cleared. */
  poison: WalError | undefined;
  /** True while truncateAfter runs: appends are refused until it ends. */
  cutting = false;

  constructor(private readonly readOnly: boolean) {}

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Why an append is refused now; undefined when it may go ahead. */
  appendRefusal(): WalError | undefined {
    if (this.state === 'running') {
      if (this.readOnly) return readOnlyError('appending');
      if (this.poison) return poisonedError(this.poison);
      return this.cutting ? cuttingError() : undefined;
    }
    if (this.state === 'draining') return closingError();
    if (this.state === 'closed') return closedError();
    return notOpenError();
  }

  /** The error for a call made after the poisoning; undefined while the log is healthy. */
  poisonedError(): WalError | undefined {
    return this.poison ? poisonedError(this.poison) : undefined;
  }

  /** For calls that wait on what is already queued (flush, sync): closed or poisoned throws. */
  throwIfUnusable(): void {
    if (this.closed) throw closedError();
    const poisoned = this.poisonedError();
    if (poisoned) throw poisoned;
  }
}
