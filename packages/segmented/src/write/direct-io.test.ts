import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WalError, WalErrorCode } from '@walnut/codec';
import { createStorageIo, Errno, MemoryStorageIo } from '@walnut/storage-io';
import {
  ioUringForTests,
  payloadFor,
  RecordingStorageIo,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, DIR, testRing } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';
import { BLOCK } from './direct-io.js';

/**
 * Memory files that refuse (and record in `violations`) a write overlapping another write
 * of the same file still in flight, and count writes and how many were in flight at once.
 */
const overlapWatch = () => new RecordingStorageIo(new MemoryStorageIo());
const writesOf = (io: RecordingStorageIo) => io.ops.filter((op) => op.kind === 'write').length;

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Appends `payloads` one `append` at a time or as one `appendPayloads` list; the last LSN. */
function appendAll(wal: SegmentedWal, payloads: Buffer[], way: 'one by one' | 'in lists'): bigint {
  if (way === 'in lists') return wal.appendPayloads(payloads);
  let lsn = 0n;
  for (const payload of payloads) lsn = wal.append({ payload });
  return lsn;
}

describe('directIo', () => {
  // A list is encoded and booked as one run of frames, which crosses block boundaries as one
  // large frame would.
  it.each(['one by one', 'in lists'] as const)(
    'never has two writes of one block in flight, though each rewrites the last one’s partial block (appending %s)',
    async (way) => {
      const io = overlapWatch();
      const config = {
        dir: DIR,
        directIo: true,
        writeBufferSize: 4096,
        segmentTargetSize: 64 * 1024,
      };
      const wal = await SegmentedWal.open({ ...config, io });
      expect(wal.stats().directIo.state).toBe('on');
      const sizes: number[] = [];
      const append = (count: number, size: number) => {
        const payloads = Array.from({ length: count }, (_, i) =>
          payloadFor(BigInt(sizes.length + i + 1), size),
        );
        for (let i = 0; i < count; i++) sizes.push(size);
        return appendAll(wal, payloads, way);
      };
      let lsn = 0n;
      for (let round = 0; round < 30; round++) {
        lsn = append(3, 50);
        // The round's write is in flight while the next buffers fill up and go out.
        const synced = wal.sync();
        lsn = append(100, 90);
        expect(await synced).toBeGreaterThan(0n);
        await tick();
      }
      expect(await wal.sync()).toBe(lsn);
      await wal.close();
      expect(writesOf(io)).toBeGreaterThan(90);
      expect(io.violations).toEqual([]);
      const again = await SegmentedWal.open({ ...config, io });
      const recs = await collect(again.replay());
      expect(recs.length).toBe(sizes.length);
      for (const r of recs) {
        expect(r.payload.equals(payloadFor(r.lsn, sizes[Number(r.lsn) - 1]))).toBe(true);
      }
      await again.close();
    },
  );

  it.each(['one by one', 'in lists'] as const)(
    'sends full buffers out together: each stops at a block boundary and the next carries on (appending %s)',
    async (way) => {
      const io = overlapWatch();
      const config = { dir: DIR, directIo: true, writeBufferSize: 4096 };
      const wal = await SegmentedWal.open({ ...config, io });
      const payloads = Array.from({ length: 1000 }, (_, i) =>
        payloadFor(BigInt(i + 1), 100 + ((i + 1) % 50)),
      );
      for (let i = 0; i < 1000; i += 40) appendAll(wal, payloads.slice(i, i + 40), way);
      expect(io.peakWritesInFlight).toBeGreaterThanOrEqual(20);
      expect(io.violations).toEqual([]);
      expect(await wal.sync()).toBe(1000n);
      await wal.close();
      const again = await SegmentedWal.open({ ...config, io });
      const recs = await collect(again.replay());
      expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)));
      for (const r of recs) expect(r.payload.equals(payloads[Number(r.lsn) - 1]!)).toBe(true);
      await again.close();
    },
  );

  it('reuses its aligned write buffers: sync rounds allocate none after the first few', async () => {
    const wal = await SegmentedWal.open({ dir: DIR, io: new MemoryStorageIo(), directIo: true });
    for (let i = 1n; i <= 200n; i++) {
      wal.append({ payload: payloadFor(i, 100) });
      await wal.sync();
    }
    expect(wal.stats().bufferAllocations).toBeLessThanOrEqual(3);
    await wal.close();
  });

  it('continues a segment after a reopen: the block it ends in is read back and rewritten unchanged', async () => {
    const io = new MemoryStorageIo();
    const config = { dir: DIR, directIo: true };
    const first = await SegmentedWal.open({ ...config, io });
    for (let i = 1n; i <= 10n; i++) first.append({ payload: payloadFor(i, 77) });
    await first.sync();
    await first.close();
    const path = `${DIR}/00000000000000000001.wal`;
    const before = io.durableBytes(path)!;
    expect(before.length % BLOCK).toBe(0);

    const second = await SegmentedWal.open({ ...config, io });
    expect(second.nextLsn).toBe(11n);
    for (let i = 11n; i <= 20n; i++) second.append({ payload: payloadFor(i, 77) });
    await second.sync();
    await second.close();
    const after = io.durableBytes(path)!;
    const dataEnd = 64 + 10 * (24 + 77);
    expect(after.subarray(0, dataEnd).equals(before.subarray(0, dataEnd))).toBe(true);

    const third = await SegmentedWal.open({ ...config, io });
    const recs = await collect(third.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
    for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, 77))).toBe(true);
    await third.close();
  });

  it('writes encrypted segments in whole blocks too, across buffers, syncs and reopens', async () => {
    const io = overlapWatch();
    const config = { dir: DIR, directIo: true, writeBufferSize: 4096, encryption: testRing() };
    for (let session = 0; session < 3; session++) {
      const wal = await SegmentedWal.open({ ...config, io });
      const first = wal.nextLsn;
      for (let i = first; i < first + 300n; i++) {
        wal.append({ payload: payloadFor(i, 60 + Number(i % 90n)) });
        if (i % 37n === 0n) await wal.sync();
      }
      expect(await wal.sync()).toBe(first + 299n);
      await wal.close();
    }
    expect(io.violations).toEqual([]);
    const again = await SegmentedWal.open({ ...config, io });
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 900 }, (_, i) => BigInt(i + 1)));
    for (const r of recs)
      expect(r.payload.equals(payloadFor(r.lsn, 60 + Number(r.lsn % 90n)))).toBe(true);
    await again.close();
  });

  it('writes through the page cache where O_DIRECT is refused, and says why', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    io.refuse(
      (op) => op.kind === 'open' && op.options?.direct === true,
      () => new WalError(WalErrorCode.IO, 'open: EINVAL', { details: { errno: Errno.EINVAL } }),
      { once: false },
    );
    const wal = await SegmentedWal.open({ dir: DIR, io, directIo: true });
    expect(wal.stats().directIo).toEqual({
      state: 'unavailable',
      reason: expect.stringContaining('refuses O_DIRECT'),
    });
    wal.append({ payload: payloadFor(1n) });
    expect(await wal.sync()).toBe(1n);
    await wal.close();
  });

  it('is off unless asked for, and off for read-only openers', async () => {
    const io = new MemoryStorageIo();
    const wal = await SegmentedWal.open({ dir: DIR, io });
    expect(wal.stats().directIo.state).toBe('off');
    await wal.close();
    const reader = await SegmentedWal.open({ dir: DIR, io, directIo: true, readOnly: true });
    expect(reader.stats().directIo.state).toBe('off');
    await reader.close();
  });
});

describe.each([
  // O_DIRECT is Linux's: Windows has no such open flag (directIo is 'unavailable' there).
  { backend: 'sync-fs' as const, skip: process.platform === 'win32' },
  { backend: 'io_uring' as const, skip: ioUringForTests().skip !== false },
])('directIo on real files ($backend)', ({ backend, skip }) => {
  let dir = '';
  afterEach(removeTempDirs);

  it.skipIf(skip)(
    'writes O_DIRECT segments in whole blocks that reopen with every record',
    async () => {
      dir = tempDir('walnut-direct-');
      const config = {
        dir,
        directIo: true,
        segmentTargetSize: 256 * 1024,
        zeroFillAhead: 64 * 1024,
      };
      const io = createStorageIo({ backend });
      const wal = await SegmentedWal.open({ ...config, io });
      expect(wal.stats().directIo.state).toBe('on');
      const producers = Array.from({ length: 16 }, async (_, p) => {
        for (let i = 0; i < 200; i++) {
          wal.append({ payload: payloadFor(BigInt(p * 1000 + i), 100 + ((p * 7 + i) % 400)) });
          await wal.sync();
        }
      });
      await Promise.all(producers);
      for (let i = 0; i < 5000; i++) wal.append({ payload: payloadFor(BigInt(i), 300) });
      const last = await wal.sync();
      expect(last).toBe(8200n);
      await wal.close();
      await io.closeIo();
      const segments = readdirSync(dir).filter((name) => name.endsWith('.wal'));
      expect(segments.length).toBeGreaterThan(3);
      for (const name of segments) expect(statSync(join(dir, name)).size % BLOCK).toBe(0);

      const again = await SegmentedWal.open({ dir, io: createStorageIo({ backend: 'sync-fs' }) });
      const recs = await collect(again.replay());
      expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 8200 }, (_, i) => BigInt(i + 1)));
      await again.close();
    },
  );
});
