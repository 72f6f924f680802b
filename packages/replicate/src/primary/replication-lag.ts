/**
 * The appends the stream does not hold yet: their bytes and the age of the oldest
 * (`stats().lag`), and the appends held back while those bytes are over `maxLagBytes`.
 */
export class ReplicationLag {
  // Unreplicated appends, oldest first: LSN, cumulative bytes, when appended (parallel arrays).
  private readonly markLsn: bigint[] = [];
  private readonly markBytes: number[] = [];
  private readonly markTime: number[] = [];
  private markHead = 0;
  private appendedBytes = 0;
  private replicatedBytes = 0;
  /** Bytes of appends let through (`admit`) that have no LSN yet. */
  private admittedBytes = 0;
  private roomWaiters: (() => void)[] = [];

  /** Payload and meta bytes appended and not yet in the stream. */
  get bytes(): number {
    return this.appendedBytes - this.replicatedBytes;
  }

  /**
   * The unreplicated bytes `maxLagBytes` bounds: appended, and admitted but not appended yet.
   * Counting only the appended let concurrent appends all pass the check before any of them
   * was counted (1000 at once went through a 4 KiB limit against a dead cluster).
   */
  get held(): number {
    return this.bytes + this.admittedBytes;
  }

  /** An append of `bytes` goes ahead; `appended` or `release` ends its admission. */
  admit(bytes: number): void {
    this.admittedBytes += bytes;
  }

  /** An admitted append of `bytes` failed before it was appended. */
  release(bytes: number): void {
    this.admittedBytes -= bytes;
  }

  /** How long ago the oldest append the stream does not hold was made (0: none). */
  get ms(): number {
    return this.markHead < this.markLsn.length
      ? Math.round(performance.now() - this.markTime[this.markHead]!)
      : 0;
  }

  /** An admitted append of `bytes` got its LSN, `lsn` (see `mark`). */
  appended(lsn: bigint, bytes: number, replicatedLsn: bigint): void {
    this.admittedBytes -= bytes;
    this.mark(lsn, bytes, replicatedLsn);
  }

  /** Appends up to `lsn` took `bytes` more; the stream holds everything up to `replicatedLsn`. */
  mark(lsn: bigint, bytes: number, replicatedLsn: bigint): void {
    this.appendedBytes += bytes;
    if (lsn <= replicatedLsn) {
      this.replicatedBytes = this.appendedBytes;
      return;
    }
    this.markLsn.push(lsn);
    this.markBytes.push(this.appendedBytes);
    this.markTime.push(performance.now());
  }

  /** The stream holds everything up to `lsn`. */
  replicated(lsn: bigint): void {
    let head = this.markHead;
    while (head < this.markLsn.length && this.markLsn[head]! <= lsn) {
      this.replicatedBytes = this.markBytes[head]!;
      head++;
    }
    if (head === this.markLsn.length) {
      this.markLsn.length = 0;
      this.markBytes.length = 0;
      this.markTime.length = 0;
      this.markHead = 0;
      this.replicatedBytes = this.appendedBytes;
    } else {
      this.markHead = head;
      if (head > 4096 && head * 2 > this.markLsn.length) {
        this.markLsn.splice(0, head);
        this.markBytes.splice(0, head);
        this.markTime.splice(0, head);
        this.markHead = 0;
      }
    }
  }

  /** Resolves at the next `wake()`: the append then checks the lag again. */
  room(): Promise<void> {
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  wake(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
