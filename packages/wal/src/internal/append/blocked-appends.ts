import type { WalRecordInput } from '@walnut/codec';

/**
 * What a waiting append will append: one record (`append`), one atomic batch (`appendBatch`,
 * with the LSN it must start at, if any) or records of a payload each (`appendMany`).
 */
export type BlockedWork =
  | { readonly kind: 'record'; readonly record: WalRecordInput }
  | {
      readonly kind: 'batch';
      readonly batch: readonly WalRecordInput[];
      readonly firstLsn: bigint | undefined;
    }
  | { readonly kind: 'payloads'; readonly payloads: readonly Uint8Array[] };

/** An append waiting for room in the queue (backpressure 'block'), encoded once admitted. */
export interface BlockedAppend {
  readonly work: BlockedWork;
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
    work: BlockedWork,
    bytes: number,
    resolve: (lsn: bigint) => void,
    reject: (error: unknown) => void,
    start: number,
  ): void {
    this.size++;
    this.queue.push({
      work: copyWork(work),
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

function copyWork(work: BlockedWork): BlockedWork {
  switch (work.kind) {
    case 'record':
      return { kind: 'record', record: copyRecord(work.record) };
    case 'batch':
      return { kind: 'batch', batch: work.batch.map(copyRecord), firstLsn: work.firstLsn };
    case 'payloads':
      return { kind: 'payloads', payloads: work.payloads.map((p) => new Uint8Array(p)) };
  }
}

function copyRecord(record: WalRecordInput): WalRecordInput {
  const copy = { ...record, payload: new Uint8Array(record.payload) };
  if (record.meta !== undefined) copy.meta = new Uint8Array(record.meta);
  return copy;
}
