/**
 * Runs async jobs one after another in submission order. A failed job does not stop
 * the queue: the next job starts once the previous one settled either way.
 */
export class SerialQueue {
  private last: Promise<unknown> = Promise.resolve();
  private running = 0;

  run<T>(job: () => Promise<T>): Promise<T> {
    this.running++;
    const result = this.last.then(job, job);
    this.last = result.then(
      () => this.running--,
      () => this.running--,
    );
    return result;
  }

  /** Resolves once every job submitted so far has settled. */
  idle(): Promise<void> {
    return this.last.then(() => undefined);
  }

  get busy(): boolean {
    return this.running > 0;
  }
}
