import { recordFrameSize, WalError, WalErrorCode } from '@walnut/codec';
import { PendingBatch } from './pending-batch.js';

/** The batches taken for one write: their bytes in file order, and the LSN after them. */
export interface EncodedBatches {
  buffers: Buffer[];
  total: number;
  nextLsn: bigint;
}

/**
 * The batched appends not written yet, as batches of up to `limit` file bytes each (one
 * larger entry gets a batch of its own). A write takes them all; a failed one puts them
 * back in front, so nothing is dropped or reordered.
 */
export class PendingBatches {
  private batches: PendingBatch[] = [];

  constructor(readonly limit: number) {}

  get bytes(): number {
    let bytes = 0;
    for (const batch of this.batches) bytes += batch.fileBytes;
    return bytes;
  }

  get ops(): number {
    let ops = 0;
    for (const batch of this.batches) ops += batch.ops;
    return ops;
  }

  get isEmpty(): boolean {
    return this.batches.length === 0;
  }

  /** Queues a copy of `data`; true when the batches are due to be written (a batch is full). */
  add(data: Uint8Array, asRecord: boolean): boolean {
    const fileBytes = asRecord ? recordFrameSize({ payload: data }) : data.length;
    let current = this.batches[this.batches.length - 1];
    if (!current || (current.ops > 0 && current.fileBytes + fileBytes > this.limit)) {
      current = new PendingBatch(Math.min(this.limit, fileBytes));
      this.batches.push(current);
    }
    current.add(data, asRecord);
    return this.batches.length > 1 || current.fileBytes >= this.limit;
  }

  /** Takes every batch, to be written; empty when none is pending. */
  take(): PendingBatch[] {
    const taken = this.batches;
    this.batches = [];
    return taken;
  }

  /** Puts back batches whose write failed, ahead of any queued since. */
  putBack(taken: PendingBatch[]): void {
    this.batches = taken.concat(this.batches);
  }

  /** Drops every batch; returns how many operations they held. */
  discard(): number {
    const ops = this.ops;
    this.batches = [];
    return ops;
  }
}

/** The bytes of `taken`, their record frames numbered on from `firstLsn`. */
export function encodeBatches(taken: PendingBatch[], firstLsn: bigint): EncodedBatches {
  const buffers: Buffer[] = [];
  let lsn = firstLsn;
  let total = 0;
  for (const batch of taken) {
    const bytes = batch.encode(lsn);
    lsn += BigInt(batch.recordCount);
    total += bytes.length;
    buffers.push(bytes);
  }
  return { buffers, total, nextLsn: lsn };
}

/** Why a batch write failed, and that its operations are kept for another `flushBatch()`. */
export function keptBatchError(error: unknown, taken: PendingBatch[], path: string): WalError {
  let ops = 0;
  let bytes = 0;
  for (const batch of taken) {
    ops += batch.ops;
    bytes += batch.fileBytes;
  }
  const code = error instanceof WalError ? error.code : WalErrorCode.IO;
  const reason = error instanceof Error ? error.message : String(error);
  return new WalError(
    code,
    `writing the batch to ${path} failed (${reason}); the file was cut back and the ${ops} pending operations (${bytes} bytes) are kept: call flushBatch() again (e.g. once space is free) or discardBatch()`,
    {
      cause: error,
      details: {
        ...(error instanceof WalError ? error.details : {}),
        pendingOps: ops,
        pendingBytes: bytes,
      },
    },
  );
}
