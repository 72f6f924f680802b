import { MemoryStorageIo, type StorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, fileSize, openMemory } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const FRAME = 8 + 12 + 4 + 100; // frame header, record body, time, payload
const HEADER = 64;

/** A closed, synced log of `n` records of 100 bytes in one segment. */
async function syncedLog(n: number) {
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, { segmentTargetSize: 64 << 10 });
  for (let i = 1n; i <= BigInt(n); i++) wal.append({ payload: payloadFor(i, 100) });
  await wal.sync();
  const path = (await wal.listSegments()).at(-1)!.path;
  await wal.close();
  return { io, path };
}

async function zero(io: StorageIo, path: string, offset: number, length: number): Promise<void> {
  const fd = await io.open(path);
  await io.write(fd, Buffer.alloc(length), offset);
  await io.fsync(fd);
  await io.close(fd);
}

describe('zeros at a frame boundary of the newest segment', () => {
  // Issue 57 item 6: 22 zero bytes over a frame's header, intact frames after it. Lost
  // writes leave whole sectors; these zeros stop short of one, so they are damage.
  it('are WAL_CORRUPT naming segment and offset when they stop short of a sector boundary', async () => {
    const { io, path } = await syncedLog(20);
    const at = HEADER + 9 * FRAME; // 1,180: the header of LSN 10; its sector ends at 1,536
    const size = await fileSize(io, path);
    await zero(io, path, at, 22);
    const err = await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    expect(err.details).toMatchObject({ segment: path, offset: at });
    expect(err.message).toMatch(/salvage/);
    // Nothing was cut: the intact frames after the zeros are still there for salvage.
    expect(await fileSize(io, path)).toBe(size);
    const wal = await SegmentedWal.open({ dir: DIR, io, recovery: 'salvage' });
    const kept = (await collect(wal.replay())).map((r) => r.lsn);
    expect(kept).toHaveLength(19);
    expect(kept).not.toContain(10n);
    expect(wal.recoveryReport.salvaged[0]).toMatchObject({ lostLsns: { from: 10n, to: 10n } });
    await wal.close();
  });

  // Zeros from a header to the end of its sector are what a sector a power loss kept from
  // the disk leaves; the durable mark a closing writer leaves says these bytes were synced.
  it('are WAL_CORRUPT when they reach the sector end but a durable mark after them covers them', async () => {
    const { io, path } = await syncedLog(20);
    const at = HEADER + 11 * FRAME; // 1,428: the header of LSN 12, 108 bytes before 1,536
    await zero(io, path, at, 1536 - at);
    const err = await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    expect(err.details).toMatchObject({ segment: path, offset: at });
    expect(err.message).toMatch(/durable mark .* up to offset 2544/);
  });

  it('are a torn tail, reported, where no durable mark says they were synced', async () => {
    const { io, path } = await syncedLog(20);
    const end = HEADER + 20 * FRAME; // where the records end and the mark begins
    const fd = await io.open(path);
    await io.truncate(fd, end);
    await io.close(fd);
    const at = HEADER + 11 * FRAME;
    await zero(io, path, at, 1536 - at);
    const wal = await SegmentedWal.open({ dir: DIR, io });
    expect(wal.recoveryReport.tornTail).toMatchObject({ segment: path, offset: at, cut: true });
    expect(wal.nextLsn).toBe(12n);
    await wal.close();
  });
});
