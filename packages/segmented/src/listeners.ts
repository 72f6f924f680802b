import { badArgument } from '@walnut/codec';

/**
 * The subscribers to one of the log's events (onDurable, onWritten, onRollback). A listener
 * that throws is reported as a process warning and never stops the others or the log.
 */
export class Listeners<Args extends unknown[]> {
  private readonly set = new Set<(...args: Args) => void>();

  /** `event` names the subscription in warnings ('onDurable'). */
  constructor(private readonly event: string) {}

  get size(): number {
    return this.set.size;
  }

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (...args: Args) => void): () => void {
    if (typeof listener !== 'function') badArgument('listener', 'a function', listener);
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  emit(...args: Args): void {
    for (const listener of this.set) {
      try {
        listener(...args);
      } catch (err) {
        process.emitWarning(`an ${this.event} listener threw: ${(err as Error)?.message ?? err}`);
      }
    }
  }
}
