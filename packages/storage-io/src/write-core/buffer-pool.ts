/** Idle buffers the pool may keep, in bytes, however many writes were once in flight. */
export const MAX_POOLED_BYTES = 64 * 1024 * 1024;

/**
 * Reusable write buffers; a buffer comes back only after its write completed. It keeps as
 * many idle buffers as were ever out at once (at least `keep`, at most MAX_POOLED_BYTES): a
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
