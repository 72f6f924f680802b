import { BaseStorageIo, completedInFull, type QueuedOp } from './base-storage-io.js';
import { Errno } from './errors.js';

/**
 * A backend that executes operations one after another at `flush()`, in submission
 * order; a linked operation whose predecessor did not succeed in full completes with
 * `-ECANCELED` without running.
 */
export abstract class SequentialStorageIo extends BaseStorageIo {
  #previousSucceeded = true;
  /** Executed operations and their results, delivered together on the next loop turn. */
  #executed: { op: QueuedOp; result: number }[] = [];
  #delivery: Promise<void> | null = null;

  /** Executes one operation now and returns its result (bytes, 0, or -errno). */
  protected abstract execute(op: QueuedOp): number;

  /**
   * Operations run now, in order; their completions are delivered from a setImmediate
   * callback, so a caller that awaits one completion after another still yields to the
   * event loop (timers, I/O) between them instead of resolving through microtasks only —
   * or sooner by `reapCompletions()`, whose caller asks for them.
   */
  protected dispatch(ops: QueuedOp[]): void {
    for (const op of ops) {
      const result = op.link && !this.#previousSucceeded ? -Errno.ECANCELED : this.execute(op);
      this.#previousSucceeded = completedInFull(op.op, op.requested, result);
      this.#executed.push({ op, result });
    }
    this.#delivery ??= new Promise((resolve) => {
      setImmediate(() => {
        this.#delivery = null;
        this.deliverAtTop(() => this.#deliverExecuted());
        resolve();
      });
    });
  }

  protected override reap(): void {
    this.#deliverExecuted();
  }

  #deliverExecuted(): void {
    const executed = this.#executed;
    if (executed.length === 0) return;
    this.#executed = [];
    for (const { op, result } of executed) {
      this.deliver(op.token, op.op, op.fd, op.requested, result);
    }
  }

  protected async drainOnClose(): Promise<void> {
    while (this.#delivery !== null) await this.#delivery;
  }
}
