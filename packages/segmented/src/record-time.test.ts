import { join } from 'node:path';
import {
  encodeFileHeader,
  encodeRecordFrame,
  MAX_TIME_DELTA,
  recordFrameSize,
  segmentFileName,
} from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory } from '../test/helpers.js';

/** A clock the test sets: no sleeps, and it may step back. */
function fakeClock(start: number) {
  const clock = { now: start, read: () => clock.now };
  return clock;
}

const T0 = Date.UTC(2026, 10, 24, 10);

/** A version 1 log (written as Walnut 0.1 wrote it): one segment of `n` records, no times. */
async function versionOneLog(io: MemoryStorageIo, n: number): Promise<void> {
  await io.mkdir(DIR);
  const frames = Array.from({ length: n }, (_, i) => {
    const input = { payload: Buffer.from(`old ${i + 1}`) };
    const frame = Buffer.alloc(recordFrameSize(input));
    encodeRecordFrame(frame, 0, BigInt(i + 1), input);
    return frame;
  });
  const header = encodeFileHeader({
    version: 1,
    firstLsn: 1n,
    salt: Buffer.alloc(16, 1),
    cipher: 'none',
    fileKind: 'segment',
    keyId: 0,
    createdAtMs: T0 - 1000,
  });
  const fd = await io.open(`${DIR}/${segmentFileName(1n)}`, { create: true });
  await io.write(fd, Buffer.concat([header, ...frames]), 0);
  await io.fsync(fd);
  await io.close(fd);
}

describe('record times', () => {
  it('stamps every record with the clock, and a batch with one time', async () => {
    const clock = fakeClock(T0);
    const wal = await openMemory(new MemoryStorageIo(), { clock: clock.read });
    wal.append({ payload: Buffer.from('a') });
    clock.now += 5;
    wal.appendPayload(Buffer.from('b'));
    clock.now += 5;
    wal.appendBatch([{ payload: Buffer.from('c') }, { payload: Buffer.from('d') }]);
    clock.now += 5;
    wal.appendPayloads([Buffer.from('e'), Buffer.from('f')]);
    await wal.sync();
    const times = (await collect(wal.replay())).map((r) => r.time);
    expect(times).toEqual([T0, T0 + 5, T0 + 10, T0 + 10, T0 + 15, T0 + 15]);
    await wal.close();
  });

  it('never goes backwards when the clock steps back, across a reopen too', async () => {
    const io = new MemoryStorageIo();
    const clock = fakeClock(T0 + 60_000);
    let wal = await openMemory(io, { clock: clock.read, segmentTargetSize: 4096 });
    for (let i = 0; i < 100; i++) {
      clock.now += i % 3 === 0 ? -7_000 : 11;
      wal.append({ payload: Buffer.alloc(64, i) });
    }
    await wal.sync();
    await wal.close();
    clock.now = T0; // a minute before everything in the log
    wal = await openMemory(io, { clock: clock.read, segmentTargetSize: 4096 });
    wal.append({ payload: Buffer.from('after the step back') });
    clock.now = Number.NaN;
    wal.append({ payload: Buffer.from('a clock that answers nonsense') });
    await wal.sync();
    const records = await collect(wal.replay());
    expect(records.length).toBe(102);
    for (let i = 1; i < records.length; i++)
      expect(records[i]!.time!).toBeGreaterThanOrEqual(records[i - 1]!.time!);
    // The first segment was created at open, at T0 + 60 s: no record is stamped before it.
    expect(records[0]!.time).toBe(T0 + 60_000);
    expect((await wal.listSegments()).length).toBeGreaterThan(1);
    await wal.close();
  });

  it('rolls to a new segment before a time would not fit its u32 of ms', async () => {
    const clock = fakeClock(T0);
    const wal = await openMemory(new MemoryStorageIo(), { clock: clock.read });
    wal.append({ payload: Buffer.from('first') });
    clock.now += MAX_TIME_DELTA; // still fits
    wal.append({ payload: Buffer.from('second') });
    clock.now += 1;
    wal.append({ payload: Buffer.from('third') });
    await wal.sync();
    const segments = await wal.listSegments();
    expect(segments.map((s) => s.firstLsn)).toEqual([1n, 3n]);
    expect((await collect(wal.replay())).map((r) => r.time)).toEqual([
      T0,
      T0 + MAX_TIME_DELTA,
      T0 + MAX_TIME_DELTA + 1,
    ]);
    await wal.close();
  });

  it('reads a version 1 log (no times) and appends to it in a new version 2 segment', async () => {
    const io = new MemoryStorageIo();
    await versionOneLog(io, 3);
    const clock = fakeClock(T0);
    const wal = await openMemory(io, { clock: clock.read });
    const before = await collect(wal.replay());
    expect(before.map((r) => [r.lsn, r.time])).toEqual([
      [1n, undefined],
      [2n, undefined],
      [3n, undefined],
    ]);
    wal.append({ payload: Buffer.from('new') });
    clock.now += 10;
    wal.append({ payload: Buffer.from('newer') });
    await wal.sync();
    expect((await wal.listSegments()).map((s) => s.firstLsn)).toEqual([1n, 4n]);
    const after = await collect(wal.replay());
    expect(after.map((r) => r.time)).toEqual([undefined, undefined, undefined, T0, T0 + 10]);
    // Up to the first timed record, the version 1 records may be at or after t: the lookup
    // answers the first LSN of their segment, never a later one.
    expect(await wal.lsnAtTime(T0 - 500)).toBe(1n);
    expect(await wal.lsnAtTime(T0)).toBe(1n);
    expect(await wal.lsnAtTime(T0 + 5)).toBe(5n);
    expect(await wal.lsnAtTime(T0 + 11)).toBe(6n);
    // For retention by age: the version 1 records are older than the first timed one, no more.
    expect(await wal.segmentsBefore(T0)).toBe(1n);
    expect(await wal.segmentsBefore(T0 + 1)).toBe(4n);
    await wal.close();
  });

  it('knows no age of a log with version 1 records only', async () => {
    const io = new MemoryStorageIo();
    await versionOneLog(io, 3);
    const wal = await openMemory(io, { readOnly: true });
    expect(await wal.segmentsBefore(Date.UTC(2100, 0))).toBe(1n);
    await wal.close();
  });

  it('refuses at open a segment of another log swapped in under a name that fits', async () => {
    const ours = new MemoryStorageIo();
    const theirs = new MemoryStorageIo();
    for (const io of [ours, theirs]) {
      const wal = await openMemory(io, { segmentTargetSize: 4096 });
      for (let i = 0; i < 80; i++) wal.append({ payload: Buffer.alloc(100, i) });
      await wal.sync();
      await wal.close();
    }
    const name = join(DIR, segmentFileName(1n));
    const fd = await ours.open(name);
    await ours.truncate(fd, 0);
    await ours.write(fd, theirs.fileBytes(name)!, 0);
    await ours.fsync(fd);
    await ours.close(fd);
    for (const verify of ['newest', 'all'] as const) {
      const err = await expectWalError(openMemory(ours, { verify }), 'WAL_CORRUPT');
      expect(err.details).toMatchObject({ segment: name, offset: 48 });
      expect(err.message).toMatch(/belongs to another log/);
    }
  });
});
