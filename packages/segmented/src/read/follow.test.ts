import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, flipByte, testRing } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const lsnsOf = async (wal: SegmentedWal) => (await collect(wal.replay())).map((r) => r.lsn);
const upTo = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

async function writerAndReader(config: { segmentTargetSize?: number } = {}) {
  const io = new MemoryStorageIo();
  const writer = await SegmentedWal.open({ dir: DIR, io, ...config });
  const reader = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
  return { io, writer, reader };
}

function appendMany(wal: SegmentedWal, from: bigint, to: bigint): void {
  for (let lsn = from; lsn <= to; lsn++) expect(wal.append({ payload: payloadFor(lsn) })).toBe(lsn);
}

describe('refresh() of a read-only opener beside a live writer', () => {
  it('finds what the writer wrote since, makes it durable, and replays it', async () => {
    const { writer, reader } = await writerAndReader();
    appendMany(writer, 1n, 5n);
    await writer.flush();
    expect(reader.writtenLsn).toBe(0n);
    expect(await reader.refresh()).toBe(5n);
    expect(reader.durableLsn).toBe(5n);
    appendMany(writer, 6n, 9n);
    await writer.flush();
    const seen: bigint[] = [];
    reader.onDurable((lsn) => seen.push(lsn));
    expect(await reader.refresh()).toBe(9n);
    expect(seen).toEqual([9n]);
    const records = await collect(reader.replay());
    expect(records.map((r) => r.lsn)).toEqual(upTo(1, 9));
    for (const r of records) expect(r.payload).toEqual(payloadFor(r.lsn));
    await writer.close();
    await reader.close();
  });

  it('a record it reports durable survives a power loss the writer never synced for', async () => {
    const { io, writer, reader } = await writerAndReader();
    appendMany(writer, 1n, 5n);
    await writer.flush();
    await reader.refresh();
    expect(reader.durableLsn).toBe(5n);
    io.simulatePowerLoss();
    const after = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    expect(await lsnsOf(after)).toEqual(upTo(1, 5));
    await after.close();
  });

  it('opened read-only, counts only sealed segments durable until refresh() synced the last', async () => {
    const io = new MemoryStorageIo();
    const writer = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 });
    appendMany(writer, 1n, 200n);
    await writer.sync();
    const reader = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    const segments = await reader.listSegments();
    expect(segments.length).toBeGreaterThan(2);
    expect(reader.writtenLsn).toBe(200n);
    expect(reader.durableLsn).toBe(segments.at(-2)!.lastLsn);
    await reader.refresh();
    expect(reader.durableLsn).toBe(200n);
    await writer.close();
    await reader.close();
  });

  it('follows the writer across rollovers and truncations', async () => {
    const { writer, reader } = await writerAndReader({ segmentTargetSize: 4096 });
    appendMany(writer, 1n, 100n);
    await writer.sync();
    await reader.refresh();
    appendMany(writer, 101n, 400n);
    await writer.sync();
    expect(await reader.refresh()).toBe(400n);
    expect(await lsnsOf(reader)).toEqual(upTo(1, 400));
    expect((await reader.listSegments()).map((s) => s.path)).toEqual(
      (await writer.listSegments()).map((s) => s.path),
    );

    const { segmentsDeleted } = await writer.truncateBefore(300n);
    expect(segmentsDeleted).toBeGreaterThan(0);
    await reader.refresh();
    expect(reader.floorLsn).toBe(writer.floorLsn);
    expectWalError(() => reader.replayFrom(1n), 'WAL_REPLAY_BELOW_FLOOR');
    expect((await collect(reader.replayFrom(reader.floorLsn))).at(-1)?.lsn).toBe(400n);
    await writer.close();
    await reader.close();
  });

  it('never reports a frame before it is whole', async () => {
    const memory = new MemoryStorageIo();
    const faulty = new FaultyStorageIo(memory);
    const writer = await SegmentedWal.open({ dir: DIR, io: faulty });
    const reader = await SegmentedWal.open({ dir: DIR, io: memory, readOnly: true });
    appendMany(writer, 1n, 2n);
    await writer.flush();
    // The next write lands in two parts, and the second waits for the first's completion.
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 30 });
    faulty.holdCompletions();
    writer.append({ payload: payloadFor(3n, 200) });
    const flushed = writer.flush();
    await new Promise((r) => setImmediate(r));
    expect(await reader.refresh()).toBe(2n);
    faulty.releaseCompletions();
    await flushed;
    expect(await reader.refresh()).toBe(3n);
    await writer.close();
    await reader.close();
  });

  it('sees an empty segment the writer replaced (reopened with encryption) and reads it with its ring', async () => {
    const io = new MemoryStorageIo();
    await (await SegmentedWal.open({ dir: DIR, io })).close();
    const reader = await SegmentedWal.open({
      dir: DIR,
      io,
      readOnly: true,
      encryption: testRing(),
    });
    const writer = await SegmentedWal.open({ dir: DIR, io, encryption: testRing() });
    appendMany(writer, 1n, 3n);
    await writer.flush();
    expect(await reader.refresh()).toBe(3n);
    expect((await collect(reader.replay())).map((r) => r.payload)).toEqual(
      [1n, 2n, 3n].map((lsn) => payloadFor(lsn)),
    );
    await writer.close();
    await reader.close();
  });

  // Where record 3's frame ends (the writer's durable mark from its close follows it).
  const FRAME = 8 + 12 + 4 + 32;
  const RECORDS_END = 64 + 3 * FRAME;
  for (const [change, damage] of [
    [
      'rewritten',
      // The last record's CRC, as a writer's rollback and rewrite would change it.
      async (io: MemoryStorageIo, path: string) => {
        await flipByte(io, path, RECORDS_END - FRAME + 4);
      },
    ],
    [
      'cut',
      async (io: MemoryStorageIo, path: string) => {
        const fd = await io.open(path);
        await io.truncate(fd, RECORDS_END - 10);
        await io.close(fd);
      },
    ],
  ] as const) {
    it(`refuses to go on when a record it found was ${change}`, async () => {
      const { io, writer, reader } = await writerAndReader();
      appendMany(writer, 1n, 3n);
      await writer.sync();
      await reader.refresh();
      await writer.close();
      const [segment] = await reader.listSegments();
      await damage(io, segment!.path);
      const error = await expectWalError(reader.refresh(), 'WAL_CORRUPT');
      expect(error.details.segment).toBe(segment!.path);
      await reader.close();
    });
  }

  it('is refused on a writer', async () => {
    const io = new MemoryStorageIo();
    const writer = await SegmentedWal.open({ dir: DIR, io });
    expectWalError(() => writer.refresh(), 'WAL_BAD_STATE');
    await writer.close();
  });
});
