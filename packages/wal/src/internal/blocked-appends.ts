import type { WalRecordInput } from '@walnut/codec';

/** An append waiting for room in the queue (backpressure 'block'), encoded once admitted. */
export interface BlockedAppend {
  readonly record: WalRecordInput | undefined;
  readonly batch: readonly WalRecordInput[] | undefined;
  /** The LSN the batch must start at (`appendBatch`'s `firstLsn`). */
  readonly firstLsn: bigint | undefined;
  readonly bytes: number;
  readonly resolve: (lsn: bigint) => void;
  readonly reject: (error: unknown) => void;
  readonly start: number;
}

/** The appends waiting for room, in call order (consumed from `head`). */
export class BlockedAppends {
  private readonly queue: (BlockedAppend | undefined)[] = [];
  private head = 0;
  /**
   * How many wait (read it, never write it): while any do, a new append waits behind them,
   * to keep LSN order. A field, not a method, as the append path reads it per record.
   */
  size = 0;

  /**
   * `append` promises the caller may reuse its buffers once the call returns, and a waiting
   * record is encoded only later: it keeps copies, not the caller's views.
   */
  add(
    record: WalRecordInput | undefined,
    batch: readonly WalRecordInput[] | undefined,
    firstLsn: bigint | undefined,
    bytes: number,
    resolve: (lsn: bigint) => void,
    reject: (error: unknown) => void,
    start: number,
  ): void {
    this.size++;
    this.queue.push({
      record: record && copyRecord(record),
      batch: batch?.map(copyRecord),
      firstLsn,
      bytes,
      resolve,
      reject,
      start,
    });
  }

  /** The oldest waiting append, left in place (undefined when none waits). */
  first(): BlockedAppend | undefined {
    return this.queue[this.head];
  }

  /** Removes the oldest waiting append (after `first()` returned it). */
  removeFirst(): void {
    this.queue[this.head++] = undefined;
    this.size--;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  }

  /** Rejects every waiting append with `error`; returns how many. */
  rejectAll(error: unknown): number {
    const rejected = this.size;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.reject(error);
    this.queue.length = 0;
    this.head = 0;
    this.size = 0;
    return rejected;
  }
}

function copyRecord(record: WalRecordInput): WalRecordInput {
  const copy = { ...record, payload: new Uint8Array(record.payload) };
  if (record.meta !== undefined) copy.meta = new Uint8Array(record.meta);
  return copy;
}
