import { CUT_FILE, decodeCut, encodeCut } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../../test/helpers.js';
import { readSmallFile, SegmentedWal, writeFileAtomically } from '../index.js';

const oldPayload = (lsn: bigint) => payloadFor(lsn);
const newPayload = (lsn: bigint) => Buffer.from(`new history ${lsn}`);

/** A writer holding records 1..`count` (durable) and a read-only opener that found them all. */
async function readerOfLog(count: bigint, segmentTargetSize?: number) {
  const io = new MemoryStorageIo();
  const writer = await SegmentedWal.open({
    dir: DIR,
    io,
    ...(segmentTargetSize ? { segmentTargetSize } : {}),
  });
  for (let lsn = 1n; lsn <= count; lsn++) writer.append({ payload: oldPayload(lsn) });
  await writer.sync();
  const reader = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
  expect(await reader.refresh()).toBe(count);
  return { writer, reader };
}

async function cutAndAppend(writer: SegmentedWal, afterLsn: bigint, to: bigint): Promise<void> {
  await writer.truncateAfter(afterLsn);
  for (let lsn = afterLsn + 1n; lsn <= to; lsn++) writer.append({ payload: newPayload(lsn) });
  await writer.sync();
}

describe("a read-only opener's refresh after the writer's truncateAfter", () => {
  it('founds its view on the new history, even when it had found records the cut removed', async () => {
    const { writer, reader } = await readerOfLog(100n, 4096);
    await cutAndAppend(writer, 50n, 60n);

    expect(await reader.refresh()).toBe(60n);
    expect(reader.durableLsn).toBe(60n);
    const records = await collect(reader.replay());
    expect(records.map((r) => r.payload)).toEqual([
      ...Array.from({ length: 50 }, (_, i) => oldPayload(BigInt(i + 1))),
      ...Array.from({ length: 10 }, (_, i) => newPayload(BigInt(i + 51))),
    ]);
    expect((await reader.listSegments()).map((s) => [s.path, s.lastLsn])).toEqual(
      (await writer.listSegments()).map((s) => [s.path, s.lastLsn]),
    );
    for (let lsn = 61n; lsn <= 70n; lsn++) writer.append({ payload: newPayload(lsn) });
    await writer.sync();
    expect(await reader.refresh()).toBe(70n);
    await writer.close();
    await reader.close();
  });

  it('ends its log at the cut when the writer appended nothing since', async () => {
    const { writer, reader } = await readerOfLog(10n);
    await writer.truncateAfter(7n);

    expect(await reader.refresh()).toBe(7n);
    expect([reader.nextLsn, reader.durableLsn]).toEqual([8n, 7n]);
    expect((await collect(reader.replay())).map((r) => r.lsn)).toEqual([
      1n,
      2n,
      3n,
      4n,
      5n,
      6n,
      7n,
    ]);
    await writer.close();
    await reader.close();
  });

  it('hands out no record it held from before the cut once a refresh found it: WAL_TRUNCATED naming the LSN kept', async () => {
    const { writer, reader } = await readerOfLog(10n);
    // One read chunk holds all ten records: 9 and 10 are in memory before the cut.
    const started = reader.replayFrom(1n)[Symbol.asyncIterator]();
    for (let lsn = 1n; lsn <= 8n; lsn++) expect((await started.next()).value?.lsn).toBe(lsn);
    await cutAndAppend(writer, 7n, 12n);

    await reader.refresh();
    expect(await expectWalError(started.next(), 'WAL_TRUNCATED')).toMatchObject({
      details: { lsn: 7n },
    });
    await writer.close();
    await reader.close();
  });

  it('after two cuts between looks learns the lowest from the CUT file and names it in WAL_TRUNCATED', async () => {
    const { writer, reader } = await readerOfLog(10n);
    const past = reader.replayFrom(7n)[Symbol.asyncIterator]();
    expect((await past.next()).value?.lsn).toBe(7n);
    const below = reader.replayFrom(3n)[Symbol.asyncIterator]();
    expect((await below.next()).value?.lsn).toBe(3n);
    await cutAndAppend(writer, 8n, 9n);
    await cutAndAppend(writer, 5n, 6n);

    expect(await reader.refresh()).toBe(6n);
    const error = await expectWalError(past.next(), 'WAL_TRUNCATED');
    expect(error.details).toMatchObject({ lsn: 5n });
    expect(error.message).toMatch(/cut after LSN 5 .*Read again from LSN 6/);
    // Below the lowest cut both histories agree: what it holds is handed out, up to the cut.
    expect((await below.next()).value?.payload).toEqual(oldPayload(4n));
    expect((await below.next()).value?.payload).toEqual(oldPayload(5n));
    await expectWalError(below.next(), 'WAL_TRUNCATED');
    expect((await collect(reader.replayFrom(6n))).map((r) => r.payload)).toEqual([newPayload(6n)]);
    await writer.close();
    await reader.close();
  });

  it('after cuts a CUT file of the first release does not remember, keeps only what lies below the floor, and says the lowest is not known', async () => {
    const { writer, reader } = await readerOfLog(10n);
    const started = reader.replayFrom(7n)[Symbol.asyncIterator]();
    expect((await started.next()).value?.lsn).toBe(7n);
    await cutAndAppend(writer, 8n, 9n);
    await cutAndAppend(writer, 5n, 6n);
    const io = writer.io as MemoryStorageIo;
    const cut = decodeCut((await readSmallFile(io, DIR, CUT_FILE, 1024))!, CUT_FILE);
    await writeFileAtomically(io, DIR, CUT_FILE, encodeCut(cut).subarray(0, 40));

    expect(await reader.refresh()).toBe(6n);
    const error = await expectWalError(started.next(), 'WAL_TRUNCATED');
    expect(error.details).toMatchObject({ lsn: 0n });
    expect(error.message).toMatch(/the lowest cut is not known/);
    await writer.close();
    await reader.close();
  });

  it('answers lsnAtTime from the new history', async () => {
    let now = 1_000_000;
    const io = new MemoryStorageIo();
    const writer = await SegmentedWal.open({ dir: DIR, io, clock: () => now });
    for (let lsn = 1n; lsn <= 10n; lsn++, now += 10) writer.append({ payload: oldPayload(lsn) });
    await writer.sync();
    const reader = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    expect(await reader.lsnAtTime(1_000_095)).toBe(11n);
    await writer.truncateAfter(5n);
    now = 2_000_000;
    writer.append({ payload: newPayload(6n) });
    await writer.sync();

    await reader.refresh();
    expect(await reader.lsnAtTime(1_000_095)).toBe(6n);
    await writer.close();
    await reader.close();
  });
});

describe("a read-only opener's refresh beside a replay under way", () => {
  it('lets the replay end where it started, with no WAL_CORRUPT for the segment that grew', async () => {
    const { writer, reader } = await readerOfLog(1n);
    const started = reader.replayFrom(1n)[Symbol.asyncIterator]();
    expect((await started.next()).value?.lsn).toBe(1n);
    writer.append({ payload: oldPayload(2n) });
    await writer.sync();

    expect(await reader.refresh()).toBe(2n);
    expect(await started.next()).toEqual({ done: true, value: undefined });
    await writer.close();
    await reader.close();
  });
});

describe("a read-only opener's refresh after a truncation deleted every segment it was following", () => {
  it('moves to the new floor: reading on from where it was is WAL_REPLAY_BELOW_FLOOR, not WAL_CORRUPT', async () => {
    const { writer, reader } = await readerOfLog(20n, 4096);
    for (let lsn = 21n; lsn <= 400n; lsn++) writer.append({ payload: oldPayload(lsn) });
    await writer.sync();
    await writer.truncateBefore(395n);
    expect((await reader.listSegments()).every((s) => writer.floorLsn > (s.lastLsn ?? 0n))).toBe(
      true,
    );

    expect(await reader.refresh()).toBe(400n);
    expect(reader.floorLsn).toBe(writer.floorLsn);
    expect(
      await expectWalError(() => reader.replayFrom(21n), 'WAL_REPLAY_BELOW_FLOOR'),
    ).toMatchObject({
      details: { lsn: 21n, floorLsn: writer.floorLsn },
    });
    expect((await collect(reader.replayFrom(reader.floorLsn))).at(-1)?.lsn).toBe(400n);
    await writer.close();
    await reader.close();
  });
});
