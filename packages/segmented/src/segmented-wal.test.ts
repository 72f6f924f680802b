import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

describe('SegmentedWal basics', () => {
  it('await using closes the log when the scope ends, releasing its lock', async () => {
    const io = new MemoryStorageIo();
    {
      await using wal = await openMemory(io);
      wal.append({ payload: Buffer.from('kept') });
      await wal.sync();
    }
    const again = await openMemory(io);
    expect((await collect(again.replay())).map((r) => r.payload.toString())).toEqual(['kept']);
    await again.close();
  });

  it('assigns LSNs from 1 and replays what was appended', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    expect(wal.nextLsn).toBe(1n);
    for (let i = 1n; i <= 100n; i++)
      expect(wal.append({ type: 3, payload: payloadFor(i) })).toBe(i);
    expect(await wal.sync()).toBe(100n);
    expect(wal.durableLsn).toBe(100n);
    const recs = await collect(wal.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i + 1)));
    expect(recs[41]!.payload.equals(payloadFor(42n))).toBe(true);
    expect(recs[41]!.type).toBe(3);
    await wal.close();
  });

  it('continues LSNs after reopen', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    wal.append({ payload: payloadFor(1n) });
    wal.appendBatch([
      { payload: payloadFor(2n) },
      { payload: payloadFor(3n), meta: Buffer.from('m') },
    ]);
    await wal.sync();
    await wal.close();
    const again = await SegmentedWal.open({ dir: DIR, io });
    expect(again.nextLsn).toBe(4n);
    expect(again.durableLsn).toBe(3n);
    expect(again.append({ payload: payloadFor(4n) })).toBe(4n);
    await again.sync();
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n]);
    expect(recs[2]!.meta?.toString()).toBe('m');
    await again.close();
  });

  it('rolls over to new segments at the target size', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    for (let i = 1n; i <= 500n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const segs = await wal.listSegments();
    expect(segs.length).toBeGreaterThan(5);
    for (let i = 1; i < segs.length; i++)
      expect(segs[i]!.firstLsn).toBe(segs[i - 1]!.lastLsn! + 1n);
    for (const s of segs.slice(0, -1)) expect(s.sealed).toBe(true);
    expect(segs.at(-1)!.sealed).toBe(false);
    expect((await collect(wal.replay())).length).toBe(500);
    await wal.close();
    const again = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 });
    expect(again.nextLsn).toBe(501n);
    expect((await collect(again.replayFrom(250n))).map((r) => r.lsn)[0]).toBe(250n);
    await again.close();
  });
});
