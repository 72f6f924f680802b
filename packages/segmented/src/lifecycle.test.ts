import { MAX_LSN } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory } from '../test/helpers.js';
import { writeFloor } from './files/floor.js';
import { SegmentedWal } from './index.js';

describe('group commit', () => {
  it('concurrent sync() calls share one fdatasync and each gets a durableLsn covering its records', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await SegmentedWal.open({ dir: DIR, io });
    const before = io.counts.fdatasync;
    const waits: Promise<bigint>[] = [];
    for (let i = 1n; i <= 20n; i++) {
      wal.append({ payload: payloadFor(i) });
      waits.push(wal.sync());
    }
    const results = await Promise.all(waits);
    for (const [i, r] of results.entries()) expect(r).toBeGreaterThanOrEqual(BigInt(i + 1));
    // One round for the first caller, one for everyone who came while it was on disk.
    expect(io.counts.fdatasync - before).toBeLessThanOrEqual(2);
    expect(wal.durableLsn).toBe(20n);
    await wal.close();
  });

  it('links the fdatasync behind the write when nothing else is in flight', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await SegmentedWal.open({ dir: DIR, io });
    wal.append({ payload: payloadFor(1n) });
    const writes = io.counts.write;
    await wal.sync();
    expect(io.counts.write - writes).toBe(1);
    expect(wal.stats().syncs).toBeGreaterThanOrEqual(1);
    await wal.close();
  });

  it('onDurable reports every advance, and unsubscribing stops it', async () => {
    const wal = await openMemory();
    const seen: bigint[] = [];
    const off = wal.onDurable((lsn) => seen.push(lsn));
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    wal.append({ payload: payloadFor(2n) });
    await wal.sync();
    off();
    wal.append({ payload: payloadFor(3n) });
    await wal.sync();
    expect(seen).toEqual([1n, 2n]);
    await wal.close();
  });

  it('onWritten reports writtenLsn as writes complete, before any sync, and unsubscribing stops it', async () => {
    const wal = await openMemory(new MemoryStorageIo(), { writeBufferSize: 4096 });
    const seen: bigint[] = [];
    const off = wal.onWritten((lsn) => seen.push(lsn));
    for (let i = 1n; i <= 60n; i++) wal.append({ payload: payloadFor(i, 200) });
    await wal.flush();
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : 1)));
    expect(seen.at(-1)).toBe(60n);
    expect(wal.durableLsn).toBe(0n);
    off();
    wal.append({ payload: payloadFor(61n) });
    await wal.flush();
    expect(seen.at(-1)).toBe(60n);
    await wal.close();
  });

  it('flush() writes to the OS without making durable', async () => {
    const wal = await openMemory();
    wal.append({ payload: payloadFor(1n) });
    expect(wal.writtenLsn).toBe(0n);
    expect(await wal.flush()).toBe(1n);
    expect(wal.writtenLsn).toBe(1n);
    expect(wal.durableLsn).toBe(0n);
    await wal.close();
  });
});

describe('replay', () => {
  it('replayFromLimit pages through the log', async () => {
    const wal = await openMemory(new MemoryStorageIo(), { segmentTargetSize: 4096 });
    for (let i = 1n; i <= 100n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const page = await wal.replayFromLimit(10n, 25);
    expect(page.records.map((r) => r.lsn)).toEqual(
      Array.from({ length: 25 }, (_, i) => BigInt(i + 10)),
    );
    expect(page.hasMore).toBe(true);
    const tail = await wal.replayFromLimit(90n, 25);
    expect(tail.records.length).toBe(11);
    expect(tail.hasMore).toBe(false);
    const viaIterator: bigint[] = [];
    for await (const r of wal) viaIterator.push(r.lsn);
    expect(viaIterator.length).toBe(100);
    await wal.close();
  });

  it('paging with replayFromLimit returns every record once, across segments and batches', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 });
    for (let i = 1n; i <= 300n; i++) {
      if (i % 10n === 0n) wal.appendBatch([{ payload: payloadFor(i, 100) }]);
      else wal.append({ payload: payloadFor(i, 100) });
    }
    wal.appendBatch([1, 2, 3, 4, 5].map((k) => ({ payload: payloadFor(300n + BigInt(k), 50) })));
    await wal.sync();
    const seen: bigint[] = [];
    let from = 1n;
    for (;;) {
      const page = await wal.replayFromLimit(from, 7);
      for (const r of page.records) {
        expect(r.payload.equals(payloadFor(r.lsn, r.lsn > 300n ? 50 : 100))).toBe(true);
        seen.push(r.lsn);
      }
      if (!page.hasMore) break;
      from = page.records.at(-1)!.lsn + 1n;
    }
    expect(seen).toEqual(Array.from({ length: 305 }, (_, i) => BigInt(i + 1)));
    await wal.close();
  });

  it('streams records larger than the read chunk and the write buffer', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { writeBufferSize: 4096, maxRecordSize: 4 << 20 });
    const big = Buffer.alloc(3 << 20, 7);
    wal.append({ payload: payloadFor(1n) });
    wal.append({ payload: big });
    wal.append({ payload: payloadFor(3n) });
    await wal.sync();
    await wal.close();
    const again = await openMemory(io, { maxRecordSize: 4 << 20 });
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.payload.length)).toEqual([32, 3 << 20, 32]);
    expect(recs[1]!.payload.equals(big)).toBe(true);
    await again.close();
  });

  it('does not see records still in the write buffer', async () => {
    const wal = await openMemory();
    wal.append({ payload: payloadFor(1n) });
    await wal.flush();
    wal.append({ payload: payloadFor(2n) });
    expect((await collect(wal.replay())).map((r) => r.lsn)).toEqual([1n]);
    await wal.close();
  });
});

describe('truncateBefore', () => {
  it('deletes only sealed segments wholly below the checkpoint and remembers the floor', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    for (let i = 1n; i <= 300n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const segs = await wal.listSegments();
    const checkpoint = segs[3]!.firstLsn + 5n;
    const result = await wal.truncateBefore(checkpoint);
    expect(result.segmentsDeleted).toBe(3);
    expect(result.bytesReclaimed).toBe(segs.slice(0, 3).reduce((n, s) => n + s.sizeBytes, 0));
    expect(wal.floorLsn).toBe(segs[3]!.firstLsn);
    await expectWalError(
      (async () => {
        for await (const _ of wal.replayFrom(1n)) break;
      })(),
      'WAL_REPLAY_BELOW_FLOOR',
    );
    expect((await collect(wal.replayFrom(checkpoint)))[0]!.lsn).toBe(checkpoint);
    // The active segment is never deleted, whatever the checkpoint.
    await wal.truncateBefore(10_000n);
    expect((await wal.listSegments()).length).toBeGreaterThanOrEqual(1);
    await wal.close();
    const again = await openMemory(io, { segmentTargetSize: 4096 });
    expect(again.floorLsn).toBeGreaterThanOrEqual(segs[3]!.firstLsn);
    expectWalError(() => again.replayFrom(1n), 'WAL_REPLAY_BELOW_FLOOR');
    expect(again.nextLsn).toBe(301n);
    await again.close();
  });
});

describe('ownership and lifecycle', () => {
  it('a second writer gets WAL_LOCKED; a read-only opener is allowed and modifies nothing', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_LOCKED');
    const ro = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    expect((await collect(ro.replay())).map((r) => r.lsn)).toEqual([1n]);
    expectWalError(() => ro.append({ payload: payloadFor(2n) }), 'WAL_READ_ONLY');
    await expectWalError(ro.sync(), 'WAL_READ_ONLY');
    await expectWalError(ro.truncateBefore(1n), 'WAL_READ_ONLY');
    await ro.close();
    await wal.close();
    const next = await SegmentedWal.open({ dir: DIR, io });
    await next.close();
  });

  it('a read-only opener of a missing directory fails and creates nothing', async () => {
    const io = new MemoryStorageIo();
    await expectWalError(SegmentedWal.open({ dir: '/nope', io, readOnly: true }), 'WAL_NOT_FOUND');
    expect(await io.stat('/nope')).toBeNull();
  });

  it('close() is idempotent, writes out the buffer, and every later call is WAL_CLOSED', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    wal.append({ payload: payloadFor(1n) });
    await Promise.all([wal.close(), wal.close()]);
    expectWalError(() => wal.append({ payload: payloadFor(2n) }), 'WAL_CLOSED');
    await expectWalError(wal.sync(), 'WAL_CLOSED');
    await expectWalError(wal.listSegments(), 'WAL_CLOSED');
    const again = await openMemory(io);
    expect(again.nextLsn).toBe(2n);
    await again.close();
  });

  it('preallocated segments: zero-filled space is the end of the log', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { segmentTargetSize: 8192, preallocate: true });
    for (let i = 1n; i <= 10n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const [seg] = await wal.listSegments();
    expect(seg!.sizeBytes).toBe(8192);
    await wal.close();
    const again = await openMemory(io, {
      segmentTargetSize: 8192,
      preallocate: true,
      recovery: 'strict',
    });
    expect(again.nextLsn).toBe(11n);
    again.append({ payload: payloadFor(11n, 100) });
    await again.sync();
    expect((await collect(again.replay())).length).toBe(11);
    await again.close();
  });
});

describe('the end of the LSN space', () => {
  it('appends up to LSN 2^64-1 and then refuses with WAL_BAD_STATE, without consuming an LSN', async () => {
    const io = new MemoryStorageIo();
    await io.mkdir(DIR);
    await writeFloor(io, DIR, MAX_LSN - 2n);
    const wal = await SegmentedWal.open({ dir: DIR, io });
    expect(wal.append({ payload: payloadFor(1n) })).toBe(MAX_LSN - 2n);
    expectWalError(
      () =>
        wal.appendBatch([
          { payload: payloadFor(2n) },
          { payload: payloadFor(3n) },
          { payload: payloadFor(4n) },
        ]),
      'WAL_BAD_STATE',
    );
    expect(wal.appendBatch([{ payload: payloadFor(2n) }, { payload: payloadFor(3n) }])).toBe(
      MAX_LSN,
    );
    expectWalError(() => wal.append({ payload: payloadFor(5n) }), 'WAL_BAD_STATE');
    expect(wal.nextLsn).toBe(MAX_LSN + 1n);
    expect(await wal.sync()).toBe(MAX_LSN);
    await wal.close();
  });
});
