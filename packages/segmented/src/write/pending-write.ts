import type { PendingWrite } from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';

/**
 * One write buffer handed to the StorageIo (the write core's pending write, whose rest a
 * short completion sends again): whole frames for the LSNs `firstLsn..lastLsn` (lastLsn <
 * firstLsn when it holds none) of one segment.
 *
 * The frames occupy `dataStart..dataEnd` of the file. The write itself covers
 * `fileOffset..fileOffset + length`: the same range, or with direct I/O the whole blocks
 * around it (the bytes before `dataStart` rewritten as they are, zeros after `dataEnd`).
 */
export interface SegmentWrite extends PendingWrite {
  readonly seg: Segment;
  readonly buf: Buffer;
  readonly dataStart: number;
  readonly dataEnd: number;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
  /** The pool's buffer behind `buf`, returned once written (null for one-off buffers of huge frames). */
  readonly pooledBuffer: Buffer | null;
  /** Every part is submitted with `dsync`: once `done`, the write is durable on its own. */
  readonly dsync: boolean;
  status: 'queued' | 'inflight' | 'done' | 'failed' | 'discarded';
  /** Set by a rollback: the data is being thrown away, whatever the completion says. */
  discard: boolean;
  /** Resolves once no I/O runs for this write any more and its status is final. */
  readonly settled: Promise<void>;
  settle(): void;
}

export function newSegmentWrite(
  fields: Omit<SegmentWrite, 'done' | 'status' | 'discard' | 'settled' | 'settle'>,
): SegmentWrite {
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  // Spelled out rather than spread: every write then has one object shape.
  return {
    seg: fields.seg,
    buf: fields.buf,
    length: fields.length,
    fileOffset: fields.fileOffset,
    dataStart: fields.dataStart,
    dataEnd: fields.dataEnd,
    firstLsn: fields.firstLsn,
    lastLsn: fields.lastLsn,
    pooledBuffer: fields.pooledBuffer,
    dsync: fields.dsync,
    done: 0,
    status: 'queued',
    discard: false,
    settled,
    settle,
  };
}
