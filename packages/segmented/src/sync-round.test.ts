import { MemoryStorageIo } from '@walnut/storage-io';
import { RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openMemory, payloadFor } from '../test/helpers.js';

/** What each `flush()` since the `from`th handed over, as `op` or `op+link`. */
const flushesSince = (io: RecordingStorageIo, from: number) =>
  io.flushes.slice(from).map((ops) => ops.map((op) => (op.link ? `${op.kind}+link` : op.kind)));

describe('a sync round', () => {
  it('hands its write and the fdatasync linked behind it to the StorageIo in one flush', async () => {
    // Sent apart, a backend holds the linked fdatasync until the write completes: two
    // trips through the kernel per durable round instead of one.
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await openMemory(io);
    for (let round = 1n; round <= 3n; round++) {
      wal.append({ payload: payloadFor(round) });
      const from = io.flushes.length;
      await wal.sync();
      expect(flushesSince(io, from)).toEqual([['write', 'fdatasync+link']]);
    }
    await wal.close();
  });
});
