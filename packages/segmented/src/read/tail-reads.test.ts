import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor, RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openMemory } from '../../test/helpers.js';

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

  it('lets readers at different LSNs each resume where their own last call ended', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await openMemory(io, { segmentTargetSize: 64 * 1024 * 1024 });
    // Four consumers that drift apart: consumer c stops c records short of the end each
    // round, so no two ask from the same LSN.
    const cursors = [1n, 1n, 1n, 1n];
    let written = 0;
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 8; i++) {
        const payload = payloadFor(BigInt(round * 8 + i), 100);
        wal.append({ payload });
        written += payload.length;
      }
      await wal.sync();
      for (let c = 0; c < cursors.length; c++) {
        const max = Number(wal.durableLsn - cursors[c]! + 1n) - c;
        if (max < 1) continue;
        const { records } = await wal.replayFromLimit(cursors[c]!, max);
        expect(records[0]?.lsn).toBe(cursors[c]);
        cursors[c] = records[records.length - 1]!.lsn + 1n;
      }
    }
    // With one remembered position, all but one reader rescanned the segment from its
    // start on every call: 125x the data here.
    expect(bytesRead(io)).toBeLessThan(written * 4 * 3);
    await wal.close();
  });
});
