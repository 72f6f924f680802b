import { WalError, WalErrorCode } from '@walnut/codec';
import { completedInFull, type QueuedOp } from '../contract/base-storage-io.js';
import { Errno } from '../contract/errors.js';
import { submitQueued } from '../contract/submit-queued.js';
import type { StorageIo, StorageIoDescription } from '../contract/types.js';
import { WrappingStorageIo } from '../contract/wrapping-storage-io.js';
import { seededRandom } from './tearing.js';

export interface UnorderedOptions {
  /** Seed of the order: the same seed and the same submissions give the same order. */
  readonly seed: number;
  /** The most event-loop turns an operation that starts a chain waits before it runs. Default 2. */
  readonly maxDelay?: number;
}

/** Operations linked one behind the other: they run in order, each once the one before completed. */
interface Chain {
  readonly ops: QueuedOp[];
  /** Turns left before the first operation runs. */
  wait: number;
  running: boolean;
  /** An operation did not complete in full: the rest complete with `-ECANCELED`. */
  broken: boolean;
}

/**
 * Runs operations in an order a kernel may choose, over any backend (a FaultyStorageIo over
 * memory, say). An operation linked to the one before (`linkToPrevious`) runs once that one
 * completed in full, and completes with `-ECANCELED` if it did not, as io_uring's links do.
 * Every other operation starts a chain of its own, which waits a seeded random number of
 * turns (0 to `maxDelay`) before it runs: a later chain may run, and complete, before an
 * earlier one, as unlinked operations do in io_uring. A turn is a turn of the event loop or
 * a `reapCompletions()` call, so a loop that never yields still sees its work done. The
 * sequential simulations never reorder, so without this a rule such as "an fdatasync covers
 * the writes that completed before it" is never tested against a write that completed after.
 */
export class UnorderedStorageIo extends WrappingStorageIo {
  readonly #random: () => number;
  readonly #maxDelay: number;
  /** The chain of the last submission, which an operation linked to it joins. */
  #current: Chain | null = null;
  readonly #waiting = new Set<Chain>();
  readonly #running = new Set<Chain>();
  #turnScheduled = false;

  constructor(inner: StorageIo, options: UnorderedOptions) {
    super(inner, 'unordered');
    const maxDelay = options.maxDelay ?? 2;
    if (!Number.isSafeInteger(maxDelay) || maxDelay < 0)
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `maxDelay must be an integer ≥ 0, got ${String(options.maxDelay)}`,
      );
    this.#random = seededRandom(options.seed);
    this.#maxDelay = maxDelay;
  }

  protected dispatch(ops: QueuedOp[]): void {
    for (const op of ops) {
      const current = this.#current;
      if (op.link && current !== null) {
        current.ops.push(op);
        if (!current.running && !this.#waiting.has(current)) this.#advance(current);
        continue;
      }
      const chain: Chain = {
        ops: [op],
        wait: Math.floor(this.#random() * (this.#maxDelay + 1)),
        running: false,
        broken: false,
      };
      this.#current = chain;
      if (chain.wait === 0) this.#advance(chain);
      else this.#waiting.add(chain);
    }
    this.#scheduleTurn();
  }

  /** Runs the chain's next operation, or cancels it behind one that did not complete in full. */
  #advance(chain: Chain): void {
    while (!chain.running && chain.ops.length > 0) {
      const op = chain.ops.shift()!;
      if (chain.broken) {
        this.deliver(op.token, op.op, op.fd, op.requested, -Errno.ECANCELED);
        continue;
      }
      let token: number;
      try {
        token = submitQueued(this.inner, { ...op, link: false });
      } catch {
        // The inner backend is gone (a simulated crash closed it): the operation never ran.
        chain.broken = true;
        this.deliver(op.token, op.op, op.fd, op.requested, -Errno.EIO);
        continue;
      }
      chain.running = true;
      this.#running.add(chain);
      this.inner.onCompletion(token, (completion) => {
        chain.running = false;
        this.#running.delete(chain);
        if (!completedInFull(op.op, op.requested, completion.result)) chain.broken = true;
        this.deliver(op.token, op.op, op.fd, op.requested, completion.result);
        this.#advance(chain);
      });
      this.inner.flush();
    }
  }

  /** One turn: every waiting chain comes a turn closer to running. */
  #turn(): void {
    for (const chain of this.#waiting) {
      if (--chain.wait > 0) continue;
      this.#waiting.delete(chain);
      this.#advance(chain);
    }
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled || this.#waiting.size === 0) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#turn();
      this.#scheduleTurn();
    });
  }

  protected override reap(): void {
    this.#turn();
    this.inner.reapCompletions();
  }

  protected async drainOnClose(): Promise<void> {
    while (this.#waiting.size > 0 || this.#running.size > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  describe(): StorageIoDescription {
    const inner = this.inner.describe();
    return {
      backend: `unordered(${inner.backend})`,
      reason: `independent operations in a seeded random order over ${inner.backend} (${inner.reason})`,
      details: { inner },
    };
  }
}
