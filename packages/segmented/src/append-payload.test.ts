import { FILE_HEADER_SIZE } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, testRing } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

describe('appendPayload', () => {
  it('writes exactly the bytes append({ payload }) writes', async () => {
    const viaRecord = new MemoryStorageIo();
    const viaPayload = new MemoryStorageIo();
    // One clock for both: the frames carry their times (format version 2).
    const clock = () => 1_764_000_000_000;
    const a = await SegmentedWal.open({ dir: DIR, io: viaRecord, segmentTargetSize: 8192, clock });
    const b = await SegmentedWal.open({ dir: DIR, io: viaPayload, segmentTargetSize: 8192, clock });
    for (let i = 1n; i <= 300n; i++) {
      const payload = payloadFor(i, Number(i % 97n));
      expect(a.append({ payload })).toBe(i);
      expect(b.appendPayload(payload)).toBe(i);
    }
    await a.sync();
    await b.sync();
    const segmentsA = (await a.listSegments()).map((s) => s.path);
    expect((await b.listSegments()).map((s) => s.path)).toEqual(segmentsA);
    await a.close();
    await b.close();
    for (const path of segmentsA) {
      // The headers differ in their random salt; every frame after them is the same.
      const framesA = viaRecord.fileBytes(path)!.subarray(FILE_HEADER_SIZE);
      const framesB = viaPayload.fileBytes(path)!.subarray(FILE_HEADER_SIZE);
      expect(framesB.length).toBeGreaterThan(0);
      expect(framesB.equals(framesA)).toBe(true);
    }
  });

  it('refuses what append refuses, and takes no LSN for it', async () => {
    const wal = await SegmentedWal.open({
      dir: DIR,
      io: new MemoryStorageIo(),
      maxRecordSize: 100,
    });
    expectWalError(() => wal.appendPayload('text' as unknown as Uint8Array), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.appendPayload(new Proxy(Buffer.alloc(4), {})), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.appendPayload(Buffer.alloc(101)), 'WAL_RECORD_TOO_LARGE');
    expect(wal.appendPayload(Buffer.alloc(100))).toBe(1n);
    await wal.close();
    expectWalError(() => wal.appendPayload(Buffer.alloc(1)), 'WAL_CLOSED');
  });

  it('encrypts like append in an encrypted log', async () => {
    const io = new MemoryStorageIo();
    const wal = await SegmentedWal.open({ dir: DIR, io, encryption: testRing() });
    for (let i = 1n; i <= 20n; i++) wal.appendPayload(payloadFor(i, 50));
    await wal.sync();
    await wal.close();
    const [segment] = await (async () => {
      const again = await SegmentedWal.open({ dir: DIR, io, encryption: testRing() });
      const segments = await again.listSegments();
      const records = await collect(again.replay());
      expect(records.map((r) => r.lsn)).toEqual(
        Array.from({ length: 20 }, (_, i) => BigInt(i + 1)),
      );
      for (const r of records) expect(r.payload.equals(payloadFor(r.lsn, 50))).toBe(true);
      await again.close();
      return segments;
    })();
    expect(segment?.encrypted).toBe(true);
  });
});
