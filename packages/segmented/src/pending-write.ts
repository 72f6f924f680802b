import type { Segment } from './segment.js';

/**
 * One write buffer handed to the StorageIo: whole frames for the LSNs
 * `firstLsn..lastLsn` (lastLsn < firstLsn when it holds none) of one segment.
 *
 * The frames occupy `dataStart..dataEnd` of the file. The write itself covers
 * `fileOffset..fileOffset + length`: the same range, or with direct I/O the whole blocks
 * around it (the bytes before `dataStart` rewritten as they are, zeros after `dataEnd`).
 */
export interface PendingWrite {
  readonly seg: Segment;
  readonly buf: Buffer;
  readonly length: number;
  readonly fileOffset: number;
  readonly dataStart: number;
  readonly dataEnd: number;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
  /** The pool's buffer behind `buf`, returned once written (null for one-off buffers of huge frames). */
  readonly pooledBuffer: Buffer | null;
  /** Every part is submitted with `dsync`: once `done`, the write is durable on its own. */
  readonly dsync: boolean;
  /** Bytes the StorageIo confirmed so far (short writes are resubmitted from here). */
  done: number;
  status: 'queued' | 'inflight' | 'done' | 'failed' | 'discarded';
  /** Set by a rollback: the data is being thrown away, whatever the completion says. */
  discard: boolean;
  /** Resolves once no I/O runs for this write any more and its status is final. */
  readonly settled: Promise<void>;
  settle(): void;
}

export function newPendingWrite(
  fields: Omit<PendingWrite, 'done' | 'status' | 'discard' | 'settled' | 'settle'>,
): PendingWrite {
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

/** Idle buffers the pool may keep, in bytes, however many writes were once in flight. */
export const MAX_POOLED_BYTES = 64 * 1024 * 1024;

/**
 * Reusable write buffers; a buffer comes back only after its write completed. It keeps as
 * many idle buffers as were ever out at once (at least 8, at most MAX_POOLED_BYTES): a
 * writer that appends synchronously gets no completion before it yields, so each burst
 * needs that many buffers, and a fresh 1 MiB buffer costs its page faults on first use.
 */
export class BufferPool {
  private readonly bufferSize: number;
  private readonly allocate: (size: number) => Buffer;
  private readonly free: Buffer[] = [];
  /** Buffers kept for reuse; more idle ones than this are left to the garbage collector. */
  private keepCount: number;
  private readonly maxKeep: number;
  private allocatedCount = 0;

  constructor(size: number, allocate: (size: number) => Buffer = Buffer.allocUnsafeSlow, keep = 8) {
    this.bufferSize = size;
    this.allocate = allocate;
    this.keepCount = keep;
    this.maxKeep = Math.max(keep, Math.floor(MAX_POOLED_BYTES / size));
  }

  get size(): number {
    return this.bufferSize;
  }

  /** Buffers this pool had to allocate because none was free (each one costs page faults). */
  get allocated(): number {
    return this.allocatedCount;
  }

  /** How many idle buffers it keeps now. */
  get keep(): number {
    return this.keepCount;
  }

  /** `count` buffers are out (in flight or being filled): keep that many once they return. */
  noteOut(count: number): void {
    if (count > this.keepCount) this.keepCount = Math.min(count, this.maxKeep);
  }

  take(): Buffer {
    const free = this.free.pop();
    if (free !== undefined) return free;
    this.allocatedCount++;
    return this.allocate(this.bufferSize);
  }

  give(buf: Buffer): void {
    if (buf.length === this.bufferSize && this.free.length < this.keepCount) this.free.push(buf);
  }
}
