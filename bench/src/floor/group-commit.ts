interface Waiting {
  readonly payload: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Group commit the way the hand-written contenders do it: `appendDurable` calls gather until
 * the event loop's check phase (`setImmediate`, so every producer runnable now joins), then
 * one synchronous `commit` takes the whole round and every call of it resolves or rejects
 * with it. The floor, `dsync-rounds` and better-sqlite3 share it, so their rounds differ
 * only in what a commit writes.
 */
export class GroupCommit {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly commit: (payloads: readonly Uint8Array[]) => void) {}

  add(payload: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ payload, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.run);
      }
    });
  }

  private readonly run = (): void => {
    const round = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    try {
      this.commit(round.map((item) => item.payload));
    } catch (error) {
      for (const item of round) item.reject(error as Error);
      return;
    }
    for (const item of round) item.resolve();
  };
}
