import { invalidArgument } from '@walnut/codec';

/**
 * The global epoch as a `SharedArrayBuffer`-backed counter. The manager advances it; any
 * worker given `buffer` (e.g. through `workerData`) reads the same value with `Atomics`, with
 * no message round trip.
 */
export class EpochRef {
  readonly buffer: SharedArrayBuffer;
  private readonly view: BigInt64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 8)
      invalidArgument(
        'EpochRef needs a SharedArrayBuffer of at least 8 bytes (the manager.epochRef.buffer)',
      );
    this.buffer = buffer;
    this.view = new BigInt64Array(buffer, 0, 1);
  }

  /** A view of the counter in another thread, from the buffer the manager shared. */
  static from(buffer: SharedArrayBuffer): EpochRef {
    return new EpochRef(buffer);
  }

  load(): bigint {
    return BigInt.asUintN(64, Atomics.load(this.view, 0));
  }

  /** Sets the epoch (the manager does this once, on open). */
  store(epoch: bigint): void {
    Atomics.store(this.view, 0, BigInt.asIntN(64, epoch));
  }

  /** Atomically adds one and returns the new epoch. */
  advance(): bigint {
    return BigInt.asUintN(64, Atomics.add(this.view, 0, 1n) + 1n);
  }
}
