import { BufferPool } from '@walnut/storage-io';

/** A buffer entries are encoded into, for one stretch of the file. */
export interface WriteBuffer {
  readonly buf: Buffer;
  /** File offset of buf[0]. */
  readonly fileOffset: number;
  /** Bytes encoded. */
  used: number;
  /** Bytes handed to the StorageIo (a prefix of `used`). */
  submitted: number;
  /** Writes from this buffer not completed yet: the buffer is reused only at 0. */
  inFlight: number;
  /** Full: no entry goes into it any more. */
  retired: boolean;
}

/**
 * A writer's write buffers, from the write core's pool. A retired buffer's memory is reused
 * only once every write from it has completed (the StorageIo may still be reading it until
 * then); two are kept aside, so a writer whose writes keep up allocates no more buffers. An
 * entry larger than `size` gets a buffer of its own, never reused.
 */
export class WriteBufferPool {
  private readonly pool: BufferPool;

  constructor(readonly size: number) {
    this.pool = new BufferPool(size, Buffer.allocUnsafe, 2);
  }

  /** A new buffer at `fileOffset` with room for `room` bytes at least. */
  take(fileOffset: number, room: number): WriteBuffer {
    return {
      buf: room > this.size ? Buffer.allocUnsafe(room) : this.pool.take(),
      fileOffset,
      used: 0,
      submitted: 0,
      inFlight: 0,
      retired: false,
    };
  }

  /** Keeps a buffer's memory for reuse once it is retired and no write from it is in flight. */
  recycle(buffer: WriteBuffer): void {
    if (buffer.retired && buffer.inFlight === 0) this.pool.give(buffer.buf);
  }
}
