/**
 * Holds new writes while a checkpoint waits for the ones in flight (decision 0712). Held
 * calls run in the order they were made, all in one go when the gate opens, so no call
 * made later overtakes one that was held.
 */
export class WriteGate {
  private held: (() => void)[] | undefined;

  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Runs `run` now, or when the gate opens. */
  admit<T>(run: () => Promise<T>): Promise<T> {
    const held = this.held;
    if (held === undefined) return run();
    return new Promise<T>((resolve, reject) => {
      held.push(() => run().then(resolve, reject));
    });
  }

  hold(): void {
    this.held ??= [];
  }

  open(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const run of held) run();
  }
}
