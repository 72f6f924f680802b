import { MemoryStorageIo } from '@walnut/storage-io';
import { RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openMemory, payloadFor } from '../test/helpers.js';

/** The bytes the reads through `io` returned. */
const bytesRead = (io: RecordingStorageIo) =>
  io.ops.reduce((sum, op) => sum + (op.kind === 'read' && op.result! > 0 ? op.result! : 0), 0);

describe('replayFromLimit for a reader that follows the writer', () => {
  it('starts where the previous call ended instead of rescanning the segment (linear, not quadratic)', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await openMemory(io, { segmentTargetSize: 64 * 1024 * 1024 });
    let cursor = 1n;
    let written = 0;
    for (let round = 0; round < 300; round++) {
      for (let i = 0; i < 8; i++) {
        const payload = payloadFor(BigInt(round * 8 + i), 100);
        wal.append({ payload });
        written += payload.length;
      }
      await wal.sync();
      // What Wal.tail does after each group commit: read from the next unread LSN.
      const { records } = await wal.replayFromLimit(cursor, 4096);
      expect(records[0]?.lsn).toBe(cursor);
      cursor = records[records.length - 1]!.lsn + 1n;
    }
    expect(cursor).toBe(2401n);
    // Each round rereads at most its own frames and the last frame of the round before
    // (plus frame headers); rescanning from the segment's start would read ~150x the data.
    expect(bytesRead(io)).toBeLessThan(written * 3);
    await wal.close();
  });
});
