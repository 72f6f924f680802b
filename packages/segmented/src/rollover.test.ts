import { join } from 'node:path';
import { FILE_HEADER_SIZE } from '@walnut/codec';
import { createStorageIo, FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import {
  expectWalError,
  ioUringForTests,
  payloadFor,
  RecordingStorageIo,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, DIR } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

/**
 * A memory backend that can hold the completion of `datasync()` (how the rollover makes the
 * old segment durable: the only unlinked fdatasync) and of `syncDirectory()` until
 * released, and records which file every write went to and every rename.
 */
function holdingIo() {
  const io = new RecordingStorageIo(new MemoryStorageIo());
  return {
    io,
    holdDatasync: () => io.hold((op) => op.kind === 'fdatasync' && !op.link),
    holdDirectorySync: () => io.hold((op) => op.kind === 'syncDirectory'),
    /** Path and offset of every write submitted, in order. */
    writes: () =>
      io.ops
        .filter((op) => op.kind === 'write')
        .map((op) => ({ path: op.path ?? '?', offset: op.offset })),
    /** The new names of the renames done so far. */
    renamed: () =>
      io.ops
        .filter((op) => op.kind === 'rename' && op.done && op.error === undefined)
        .map((op) => op.to),
  };
}

const config = { dir: DIR, segmentTargetSize: 4096, writeBufferSize: 4096 };

/** Appends 100-byte records until a second segment is planned; returns its first LSN. */
function fillFirstSegment(wal: SegmentedWal): bigint {
  let lsn = 0n;
  while (wal.activeSegmentFirstLsn === 1n) lsn = wal.append({ payload: payloadFor(lsn + 1n, 100) });
  return lsn;
}

describe('rollover', () => {
  it('writes for the new segment go out while the old segment is still being made durable', async () => {
    const { io, holdDatasync, writes } = holdingIo();
    const wal = await SegmentedWal.open({ ...config, io });
    const datasyncs = holdDatasync();
    const completed: bigint[] = [];
    wal.onWriteCompleted((lsn) => completed.push(lsn));
    const second = fillFirstSegment(wal);
    for (let i = 0; i < 25; i++) wal.append({ payload: payloadFor(wal.nextLsn, 100) });
    const flushing = wal.flush();

    const secondPath = join(DIR, `${String(second).padStart(20, '0')}.wal`);
    // The rollover's job reaches the old segment's fdatasync soon after (it is held there).
    await ticks(10);
    expect(datasyncs.held).toBe(1);
    // Under a temporary name (a spare file opened ahead, or `<name>.tmp`), never the final one.
    const dataWrites = writes().filter(
      (w) =>
        w.path.startsWith(join(DIR)) && !w.path.endsWith('.wal') && w.offset >= FILE_HEADER_SIZE,
    );
    expect(dataWrites.length).toBeGreaterThan(0);
    expect(await io.stat(secondPath)).toBeNull();
    expect(wal.durableLsn).toBeLessThan(second);
    // Written to the OS, but into a file a crash of the process would take with it (recovery
    // removes tmp files): not written yet, and flush() waits for the name. Their buffers are
    // free, though: the writes completed.
    expect(wal.writtenLsn).toBe(second - 1n);
    expect(completed.at(-1)).toBe(wal.nextLsn - 1n);

    datasyncs.release();
    expect(await flushing).toBe(wal.nextLsn - 1n);
    expect(await wal.sync()).toBe(wal.nextLsn - 1n);
    expect(await io.stat(secondPath)).not.toBeNull();
    expect(await io.stat(`${secondPath}.tmp`)).toBeNull();
    await wal.close();
  });

  it('durableLsn covers records of a new segment only after its rename and directory fsync', async () => {
    const { io, holdDirectorySync, renamed } = holdingIo();
    const wal = await SegmentedWal.open({ ...config, io });
    const second = fillFirstSegment(wal);
    const secondPath = join(DIR, `${String(second).padStart(20, '0')}.wal`);
    const durableWhenRenamed: boolean[] = [];
    wal.onDurable((lsn) => {
      if (lsn >= second) durableWhenRenamed.push(renamed().includes(secondPath));
    });
    const directorySyncs = holdDirectorySync();
    const syncing = wal.sync();
    await ticks(20);
    expect(renamed()).toContain(secondPath);
    expect(wal.durableLsn).toBeLessThan(second);
    expect(durableWhenRenamed).toEqual([]);

    directorySyncs.release();
    expect(await syncing).toBe(second);
    expect(durableWhenRenamed).toEqual([true]);
    await wal.close();
  });

  it('replay stops before a segment still under its tmp name, and reads it once it has its name', async () => {
    const { io, holdDatasync } = holdingIo();
    const wal = await SegmentedWal.open({ ...config, io });
    const datasyncs = holdDatasync();
    const second = fillFirstSegment(wal);
    for (let i = 0; i < 25; i++) wal.append({ payload: payloadFor(wal.nextLsn, 100) });
    const flushing = wal.flush();
    // The new segment's records are in its tmp file (the rollover is held before the rename).
    const inTmpFile = () =>
      io.ops.some(
        (op) => op.kind === 'write' && op.done && op.path?.endsWith('.tmp') && op.offset! > 0,
      );
    while (!inTmpFile()) await tick();
    const lsns = (count: bigint) => Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
    expect((await collect(wal.replay())).map((r) => r.lsn)).toEqual(lsns(second - 1n));
    expect((await wal.listSegments()).map((s) => s.firstLsn)).toEqual([1n]);
    datasyncs.release();
    const last = await flushing;
    expect((await collect(wal.replay())).map((r) => r.lsn)).toEqual(lsns(last));
    expect((await wal.listSegments()).length).toBe(2);
    await wal.close();
  });

  it("calls no round durable while the seal's fdatasync beside it has not come back clean", async () => {
    // Linux hands a file's writeback error to one of the fdatasyncs running on it: the seal's
    // may take the error of the data a round beside it syncs.
    const faulty = new FaultyStorageIo(new MemoryStorageIo(), { seed: 1 });
    const io = new RecordingStorageIo(faulty);
    const wal = await SegmentedWal.open({ ...config, io });
    for (let i = 1n; i <= 5n; i++) wal.append({ payload: payloadFor(i, 100) });
    const roundSyncs = io.hold((op) => op.kind === 'fdatasync' && op.link);
    const sealSyncs = io.hold((op) => op.kind === 'fdatasync' && !op.link);
    // The round's fdatasync (linked behind its write) passes; the seal's, after it, fails.
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 2 });
    const synced = wal.sync().then(
      (lsn) => ({ lsn }),
      (error: unknown) => ({ error }),
    );
    fillFirstSegment(wal);
    await ticks(20);
    expect([roundSyncs.held, sealSyncs.held]).toEqual([1, 1]);
    roundSyncs.release();
    await ticks(20);
    sealSyncs.release();
    const outcome = await synced;
    expect(outcome).not.toHaveProperty('lsn');
    expect(wal.durableLsn).toBe(0n);
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await wal.close();
  });

  it('a replay reading a sealed segment whose last writes complete meanwhile hands out what was written', async () => {
    const { io } = holdingIo();
    const wal = await SegmentedWal.open({ ...config, io });
    for (let lsn = 1n; lsn <= 10n; lsn++) wal.append({ payload: payloadFor(lsn, 100) });
    await wal.sync();
    const writes = io.hold((op) => op.kind === 'write' || op.kind === 'writev');
    fillFirstSegment(wal);
    const flushed = wal.flush();
    for (let i = 0; i < 200 && writes.held === 0; i++) await tick();
    expect(writes.held).toBeGreaterThan(0);
    // The replay takes the first segment's end as its completed writes stand now (LSN 10),
    // and the rest of its writes complete while it reads.
    const reading = wal.replayFrom(1n)[Symbol.asyncIterator]();
    const first = reading.next();
    writes.release();
    const lsns: bigint[] = [];
    for (let step = await first; step.done !== true; step = await reading.next())
      lsns.push(step.value.lsn);
    expect(lsns).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
    await flushed;
    await wal.close();
  });

  it('close() finishes a rollover in progress: the records written under the tmp name survive', async () => {
    const { io, holdDatasync } = holdingIo();
    const wal = await SegmentedWal.open({ ...config, io });
    const datasyncs = holdDatasync();
    fillFirstSegment(wal);
    for (let i = 0; i < 50; i++) wal.append({ payload: payloadFor(wal.nextLsn, 100) });
    const last = wal.nextLsn - 1n;
    const closing = wal.close();
    await ticks(5);
    datasyncs.release();
    await closing;
    const after = await SegmentedWal.open({ ...config, io });
    expect(after.nextLsn).toBe(last + 1n);
    expect((await collect(after.replay())).length).toBe(Number(last));
    await after.close();
  });

  // Payload sizes 96 and 100 put the full disk at different steps of a rollover: with 100
  // (124-byte frames) a spare file's header is refused while the segment before it is still
  // being created, which once left the log spinning on a segment it had given up on.
  it.each([96, 100])(
    'a disk that fills up anywhere around a rollover rolls back cleanly and the log goes on (%i-byte payloads)',
    async (size) => {
      for (let afterBytes = 0; afterBytes < 14_000; afterBytes += 700) {
        const memory = new MemoryStorageIo();
        const io = new FaultyStorageIo(memory, { seed: afterBytes });
        const wal = await SegmentedWal.open({ ...config, io });
        wal.append({ payload: payloadFor(1n, size) });
        const synced = await wal.sync();
        io.inject({ kind: 'enospc', afterBytes });
        for (let i = 0; i < 100; i++) {
          try {
            wal.append({ payload: payloadFor(wal.nextLsn, size) });
          } catch {
            break; // WAL_NO_SPACE while the rollback runs
          }
          if (i % 10 === 0) await tick();
        }
        await wal.sync().catch(() => {});
        io.clearFaults();
        const next = wal.nextLsn;
        for (let i = 0n; i < 60n; i++) wal.append({ payload: payloadFor(next + i, size) });
        expect(await wal.sync()).toBe(next + 59n);
        await wal.close();
        const after = await SegmentedWal.open({ ...config, io: new FaultyStorageIo(memory) });
        const recs = await collect(after.replay());
        expect(recs.length).toBe(Number(next + 59n));
        expect(recs[Number(synced) - 1]!.lsn).toBe(synced);
        for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, size))).toBe(true);
        await after.close();
      }
    },
  );
});

describe.each([
  { backend: 'memory' as const, skip: false },
  { backend: 'sync-fs' as const, skip: false },
  { backend: 'io_uring' as const, skip: ioUringForTests().skip !== false },
])('rollover inside a loop that never yields ($backend)', ({ backend, skip }) => {
  let dir = '';
  afterEach(removeTempDirs);

  it.skipIf(skip)(
    'gets a file for every new segment, so no segment waits with its writes',
    async () => {
      dir = backend === 'memory' ? DIR : tempDir('walnut-rollover-');
      const io = backend === 'memory' ? new MemoryStorageIo() : createStorageIo({ backend });
      const wal = await SegmentedWal.open({ ...config, dir, io });
      const segments = new Set<bigint>();
      // From here to the expectations nothing yields to the event loop (no await, no microtask
      // turn): only reapCompletions, as an append loop above this layer calls it, moves I/O on.
      for (let i = 0; i < 2000; i++) {
        wal.append({ payload: payloadFor(wal.nextLsn, 100) });
        segments.add(wal.activeSegmentFirstLsn);
        wal.reapCompletions();
      }
      expect(segments.size).toBeGreaterThan(20);
      // Every write before the active segment's buffer was handed to the StorageIo (on io_uring
      // it may still be in flight); a segment without a file would hold its writes, and
      // submittedLsn, before it.
      expect(wal.submittedLsn).toBeGreaterThanOrEqual(wal.activeSegmentFirstLsn - 1n);
      expect(await wal.sync()).toBe(2000n);
      await wal.close();
      const after = await SegmentedWal.open({ ...config, dir, io });
      expect((await collect(after.replay())).map((r) => r.lsn)).toEqual(
        Array.from({ length: 2000 }, (_, i) => BigInt(i + 1)),
      );
      await after.close();
      await io.closeIo();
    },
  );
});
