import { MemoryStorageIo, type QueuedOp } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { openMemory, payloadFor } from '../test/helpers.js';

/** A memory backend that remembers what each `flush()` handed over, as `op` or `op+link`. */
class DispatchRecordingIo extends MemoryStorageIo {
  readonly dispatches: string[][] = [];

  protected override dispatch(ops: QueuedOp[]): void {
    this.dispatches.push(ops.map((op) => (op.link ? `${op.op}+link` : op.op)));
    super.dispatch(ops);
  }
}

describe('a sync round', () => {
  it('hands its write and the fdatasync linked behind it to the StorageIo in one flush', async () => {
    // Sent apart, a backend holds the linked fdatasync until the write completes: two
    // trips through the kernel per durable round instead of one.
    const io = new DispatchRecordingIo();
    const wal = await openMemory(io);
    for (let round = 1n; round <= 3n; round++) {
      wal.append({ payload: payloadFor(round) });
      io.dispatches.length = 0;
      await wal.sync();
      expect(io.dispatches).toEqual([['write', 'fdatasync+link']]);
    }
    await wal.close();
  });
});
