import { MemoryStorageIo, type QueuedOp } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { CoreWalWriter } from './core-wal-writer.js';

/** A memory backend that remembers what each `flush()` handed over, as `op` or `op+link`. */
class DispatchRecordingIo extends MemoryStorageIo {
  readonly dispatches: string[][] = [];

  protected override dispatch(ops: QueuedOp[]): void {
    this.dispatches.push(ops.map((op) => (op.link ? `${op.op}+link` : op.op)));
    super.dispatch(ops);
  }
}

describe('CoreWalWriter.sync', () => {
  it('hands its write and the fdatasync linked behind it to the StorageIo in one flush', async () => {
    // Sent apart, a backend holds the linked fdatasync until the write completes: two
    // trips through the kernel per sync instead of one.
    const io = new DispatchRecordingIo();
    await io.mkdir('/wal');
    const writer = await CoreWalWriter.create(0, '/wal/wal-0.log', { io });
    for (let i = 0; i < 3; i++) {
      writer.appendPut(Buffer.from(`key-${i}`), Buffer.from('value'));
      io.dispatches.length = 0;
      await writer.sync();
      expect(io.dispatches).toEqual([['write', 'fdatasync+link']]);
    }
    await writer.close();
  });
});
