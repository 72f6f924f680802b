import { Errno, ioErrorFromErrno } from '@walnut/codec';
import { FaultyStorageIo, type IoFd, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

describe.each([
  { writes: 'through the page cache', directIo: false },
  { writes: 'with direct I/O', directIo: true },
])('fault matrix, writing $writes', ({ directIo }) => {
  /** `dsyncWrites: false`: every sync round ends in an fdatasync, as on a backend without dsync writes. */
  async function faultyLog(
    config: { segmentTargetSize?: number; writeBufferSize?: number } = {},
    { dsyncWrites = true } = {},
  ) {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory, { seed: 1, dsyncWrites });
    const wal = await SegmentedWal.open({ dir: DIR, io, directIo, ...config });
    expect(wal.stats().directIo.state).toBe(directIo ? 'on' : 'off');
    return { memory, io, wal };
  }

  async function reopen(memory: MemoryStorageIo) {
    return SegmentedWal.open({ dir: DIR, io: new FaultyStorageIo(memory, { seed: 2 }), directIo });
  }

  it('EIO on fdatasync poisons the log: the sync fails and nothing later reports success', async () => {
    const { io, wal } = await faultyLog({}, { dsyncWrites: false });
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    wal.append({ payload: payloadFor(2n) });
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expectWalError(wal.sync(), 'WAL_POISONED');
    expect(wal.durableLsn).toBe(1n);
    expectWalError(() => wal.append({ payload: payloadFor(3n) }), 'WAL_POISONED');
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await expectWalError(wal.flush(), 'WAL_POISONED');
    await expectWalError(wal.truncateBefore(1n), 'WAL_POISONED');
    expectWalError(() => wal.replay(), 'WAL_POISONED');
    await wal.close();
  });

  it('EIO on the dsync write that ends a round poisons the log as a failed fdatasync does', async () => {
    const { io, wal } = await faultyLog();
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    wal.append({ payload: payloadFor(2n) });
    io.inject({ kind: 'eio', op: 'write', nth: 1 });
    const fdatasyncs = io.counts.fdatasync;
    await expectWalError(wal.sync(), 'WAL_POISONED');
    expect(io.counts.fdatasync).toBe(fdatasyncs);
    expect(wal.durableLsn).toBe(1n);
    expectWalError(() => wal.append({ payload: payloadFor(3n) }), 'WAL_POISONED');
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await wal.close();
  });

  it('concurrent sync() callers all see the poison', async () => {
    const { io, wal } = await faultyLog({}, { dsyncWrites: false });
    wal.append({ payload: payloadFor(1n) });
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    const a = wal.sync();
    wal.append({ payload: payloadFor(2n) });
    const b = wal.sync();
    await expectWalError(a, 'WAL_POISONED');
    await expectWalError(b, 'WAL_POISONED');
    await wal.close();
  });

  it('EIO on a write poisons the log', async () => {
    const { io, wal } = await faultyLog();
    io.inject({ kind: 'eio', op: 'write', nth: 1 });
    wal.append({ payload: payloadFor(1n) });
    await expectWalError(wal.sync(), 'WAL_POISONED');
    expectWalError(() => wal.append({ payload: payloadFor(2n) }), 'WAL_POISONED');
    await wal.close();
  });

  it('a short write is finished, never left as a hole', async () => {
    const { memory, io, wal } = await faultyLog();
    for (let i = 1n; i <= 50n; i++) wal.append({ payload: payloadFor(i, 100) });
    // More than a block: a direct write that stops mid-block is resumed from the block's start.
    io.inject({ kind: 'short-write', nth: 1, bytes: 4096 + 700 });
    expect(await wal.sync()).toBe(50n);
    expect(wal.stats().shortWrites).toBe(1);
    await wal.close();
    const again = await reopen(memory);
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
    await again.close();
  });

  it('ENOSPC gives WAL_NO_SPACE, rolls the failed records back, and appends work once space is free', async () => {
    const { memory, io, wal } = await faultyLog({ writeBufferSize: 4096 });
    for (let i = 1n; i <= 10n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    io.inject({ kind: 'enospc', afterBytes: 1000 });
    for (let i = 11n; i <= 100n; i++) wal.append({ payload: payloadFor(i, 100) });
    const err = await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    const lostFrom = err.details.lostFromLsn as bigint;
    expect(lostFrom).toBeGreaterThan(10n);
    expect(wal.nextLsn).toBe(lostFrom);
    // The records before the failed write were written; the next sync makes them durable.
    expect(wal.durableLsn).toBe(10n);
    expect(await wal.sync()).toBe(lostFrom - 1n);
    // The log is consistent: what is there replays, in order, byte for byte.
    const kept = await collect(wal.replay());
    expect(kept.map((r) => r.lsn)).toEqual(
      Array.from({ length: Number(lostFrom - 1n) }, (_, i) => BigInt(i + 1)),
    );
    io.clearFaults();
    for (let i = lostFrom; i <= 120n; i++)
      expect(wal.append({ payload: payloadFor(i, 100) })).toBe(i);
    expect(await wal.sync()).toBe(120n);
    await wal.close();
    const again = await reopen(memory);
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 120 }, (_, i) => BigInt(i + 1)));
    for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, 100))).toBe(true);
    await again.close();
  });

  it('a rollback tells onRollback listeners where the log now ends, before any waiter hears of it', async () => {
    const { io, wal } = await faultyLog({ writeBufferSize: 4096 });
    for (let i = 1n; i <= 10n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const heard: { lastLsn: bigint; error: unknown; nextLsn: bigint }[] = [];
    const unsubscribe = wal.onRollback((lastLsn, error) => {
      heard.push({ lastLsn, error, nextLsn: wal.nextLsn });
    });
    io.inject({ kind: 'enospc', afterBytes: 1000 });
    for (let i = 11n; i <= 100n; i++) wal.append({ payload: payloadFor(i, 100) });
    const err = await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    expect(heard).toEqual([
      { lastLsn: (err.details.lostFromLsn as bigint) - 1n, error: err, nextLsn: wal.nextLsn },
    ]);
    unsubscribe();
    io.clearFaults();
    io.inject({ kind: 'enospc', afterBytes: 0 });
    wal.append({ payload: payloadFor(wal.nextLsn, 100) });
    await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    expect(heard).toHaveLength(1);
    io.clearFaults();
    await wal.close();
  });

  it('the rollback is over when its listeners hear of it: an append from onRollback is accepted', async () => {
    const { io, wal } = await faultyLog({ writeBufferSize: 4096 });
    io.inject({ kind: 'enospc', afterBytes: 1000 });
    let retried: bigint | undefined;
    wal.onRollback((lastLsn) => {
      io.clearFaults();
      retried = wal.append({ payload: payloadFor(lastLsn + 1n, 100) });
    });
    for (let i = 1n; i <= 100n; i++) wal.append({ payload: payloadFor(i, 100) });
    await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    expect(retried).toBeDefined();
    expect(await wal.sync()).toBe(retried);
    await wal.close();
  });

  it('ENOSPC while nobody waits is reported by the next sync()', async () => {
    const { io, wal } = await faultyLog({ writeBufferSize: 4096 });
    io.inject({ kind: 'enospc', afterBytes: 0 });
    for (let i = 1n; i <= 100n; i++) {
      try {
        wal.append({ payload: payloadFor(i, 100) });
      } catch (err) {
        expect((err as { code: string }).code).toBe('WAL_NO_SPACE');
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 10));
    await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    io.clearFaults();
    const lsn = wal.append({ payload: payloadFor(1n) });
    expect(lsn).toBe(wal.nextLsn - 1n);
    expect(await wal.sync()).toBe(lsn);
    await wal.close();
  });

  it('ENOSPC while creating a segment rolls back and the rollover is retried', async () => {
    const { memory, io, wal } = await faultyLog({ segmentTargetSize: 4096, writeBufferSize: 4096 });
    let lsn = 0n;
    while (wal.activeSegmentFirstLsn === 1n)
      lsn = wal.append({ payload: payloadFor(lsn + 1n, 100) });
    // The last append started segment 2; its creation hits a full disk.
    io.inject({ kind: 'enospc', afterBytes: 0 });
    await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    io.clearFaults();
    const next = wal.nextLsn;
    for (let i = next; i < next + 50n; i++) wal.append({ payload: payloadFor(i, 100) });
    expect(await wal.sync()).toBe(next + 49n);
    await wal.close();
    const again = await reopen(memory);
    const recs = await collect(again.replay());
    expect(recs.length).toBe(Number(next + 49n));
    await again.close();
  });

  it('a failed directory fsync while creating a segment poisons the log', async () => {
    const { io, wal } = await faultyLog({ segmentTargetSize: 4096 });
    io.inject({ kind: 'eio', op: 'syncDirectory', nth: 1 });
    for (let i = 1n; i <= 100n; i++) wal.append({ payload: payloadFor(i, 100) });
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await wal.close();
  });

  it('truncateBefore frees space on a device too full for the new FLOOR', async () => {
    const { memory, io, wal } = await faultyLog({ segmentTargetSize: 4096 });
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    io.inject({ kind: 'enospc', afterBytes: 0 });
    const done = await wal.truncateBefore(150n);
    expect(done.segmentsDeleted).toBeGreaterThan(0);
    expect(done.bytesReclaimed).toBeGreaterThan(0);
    const first = (await wal.listSegments())[0]!.firstLsn;
    expect(wal.floorLsn).toBe(first);
    expect(first).toBeGreaterThan(1n);
    // No room for FLOOR even after the deletions (the simulated device frees nothing):
    // the log has none, and its floor is its first segment's first LSN.
    expect(await memory.readdir(DIR)).not.toContain('FLOOR.tmp');
    expect(await memory.readdir(DIR)).not.toContain('FLOOR');
    io.clearFaults();
    await wal.close();
    const again = await reopen(memory);
    expect(again.floorLsn).toBe(first);
    expect((await collect(again.replay())).map((r) => r.lsn)).toEqual(
      Array.from({ length: Number(201n - first) }, (_, i) => first + BigInt(i)),
    );
    expect(() => again.replayFrom(first - 1n)).toThrow(/were deleted/);
    await again.close();
  });

  it('a failed directory fsync in truncateBefore poisons the log', async () => {
    const { io, wal } = await faultyLog({ segmentTargetSize: 4096 });
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    io.inject({ kind: 'eio', op: 'syncDirectory', nth: 1 });
    await expectWalError(wal.truncateBefore(150n), 'WAL_POISONED');
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await wal.close();
  });
});

/** A disk with room for records but not for a preallocated segment: fallocate is ENOSPC. */
class NoRoomToPreallocate extends FaultyStorageIo {
  override async fallocate(_fd: IoFd, _offset: number, _length: number): Promise<void> {
    throw ioErrorFromErrno(Errno.ENOSPC, 'fallocate');
  }
}

describe('a full disk and what the log says about it', () => {
  it('a segment that cannot be preallocated loses the records it was for, names preallocation, and never reports an empty loss', async () => {
    const io = new NoRoomToPreallocate(new MemoryStorageIo());
    const wal = await SegmentedWal.open({ dir: DIR, io, preallocate: true });
    for (let i = 1n; i <= 3n; i++) wal.append({ payload: payloadFor(i, 100) });
    const err = await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    expect(err.details).toMatchObject({ lostFromLsn: 1n, lostToLsn: 3n });
    expect(err.message).toContain('preallocating a segment needs its whole size free');
    await wal.close();
  });

  it('close() rejects, naming them, when records appended before it could not be written', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo(), { seed: 1 });
    const wal = await SegmentedWal.open({ dir: DIR, io });
    for (let i = 1n; i <= 5n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    io.inject({ kind: 'enospc', afterBytes: 0 });
    for (let i = 6n; i <= 9n; i++) wal.append({ payload: payloadFor(i, 100) });
    const err = await expectWalError(wal.close(), 'WAL_NO_SPACE');
    expect(err.details).toMatchObject({ lostFromLsn: 6n, lostToLsn: 9n });
    expect(err.message).toContain('records 6..9, appended before close, could not be written');
  });
});
