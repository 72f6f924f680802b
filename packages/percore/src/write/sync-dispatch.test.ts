import { MemoryStorageIo } from '@walnut/storage-io';
import { RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { CoreWalWriter } from './core-wal-writer.js';

/** What each `flush()` since the `from`th handed over, as `op` or `op+link`. */
const flushesSince = (io: RecordingStorageIo, from: number) =>
  io.flushes.slice(from).map((ops) => ops.map((op) => (op.link ? `${op.kind}+link` : op.kind)));

describe('CoreWalWriter.sync', () => {
  it('hands its write and the fdatasync linked behind it to the StorageIo in one flush', async () => {
    // Sent apart, a backend holds the linked fdatasync until the write completes: two
    // trips through the kernel per sync instead of one.
    const io = new RecordingStorageIo(new MemoryStorageIo());
    await io.mkdir('/wal');
    const writer = await CoreWalWriter.create(0, '/wal/wal-0.log', { io });
    for (let i = 0; i < 3; i++) {
      writer.appendPut(Buffer.from(`key-${i}`), Buffer.from('value'));
      const from = io.flushes.length;
      await writer.sync();
      expect(flushesSince(io, from)).toEqual([['write', 'fdatasync+link']]);
    }
    await writer.close();
  });
});
