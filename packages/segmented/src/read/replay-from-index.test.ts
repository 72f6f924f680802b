import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor, RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { DIR, openMemory } from '../../test/helpers.js';
import { FRAME_INDEX_SPACING } from '../files/frame-index.js';
import { SegmentedWal } from '../index.js';

/** The bytes the reads through `io` returned since `from` (an index into its ops). */
const bytesRead = (io: RecordingStorageIo, from = 0) =>
  io.ops
    .slice(from)
    .reduce((sum, op) => sum + (op.kind === 'read' && op.result! > 0 ? op.result! : 0), 0);

/** 20,000 records of 100 bytes in one segment (about 2.4 MB). */
async function bigSegment(io: RecordingStorageIo): Promise<SegmentedWal> {
  const wal = await openMemory(io, { segmentTargetSize: 64 * 1024 * 1024 });
  for (let i = 1n; i <= 20_000n; i++) wal.append({ payload: payloadFor(i, 100) });
  await wal.sync();
  return wal;
}

describe('a replay from an LSN in the middle of a segment (decision 0344)', () => {
  it('reads about one index spacing around that record, not the segment up to it', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await bigSegment(io);
    for (const lsn of [15_000n, 7_777n, 19_999n, 2n]) {
      const before = io.ops.length;
      const { records } = await wal.replayFromLimit(lsn, 1);
      expect(records.map((r) => r.lsn)).toEqual([lsn]);
      expect(records[0]!.payload).toEqual(payloadFor(lsn, 100));
      // From the indexed frame before it to the next one, then twice that to see whether
      // more follow; a scan from the segment's start reads 1 MiB chunks up to it.
      expect(bytesRead(io, before)).toBeLessThanOrEqual(4 * FRAME_INDEX_SPACING);
    }
    await wal.close();
  });

  it('reads little more than the records asked for when it reads on', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await bigSegment(io);
    const before = io.ops.length;
    const { records } = await wal.replayFromLimit(10_000n, 1000);
    expect(records[999]!.lsn).toBe(10_999n);
    // The reads double from the first one on: at most twice what the records take.
    expect(bytesRead(io, before)).toBeLessThan(2 * 1000 * 130 + 2 * FRAME_INDEX_SPACING);
    await wal.close();
  });

  it('after a reopen, starts near the record too: opening indexed the newest segment', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    await (await bigSegment(io)).close();
    const wal = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 64 * 1024 * 1024 });
    const before = io.ops.length;
    expect((await wal.replayFromLimit(15_000n, 1)).records[0]!.lsn).toBe(15_000n);
    expect(bytesRead(io, before)).toBeLessThanOrEqual(4 * FRAME_INDEX_SPACING);
    await wal.close();
  });
});
