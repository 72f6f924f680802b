import { CUT_FILE, decodeCut, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory, testRing } from '../../test/helpers.js';
import { readSmallFile, SegmentedWal } from '../index.js';

async function logOf(count: number, config = {}) {
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, { segmentTargetSize: 4096, ...config });
  for (let i = 1n; i <= BigInt(count); i++) wal.append({ payload: payloadFor(i, 400) });
  return { io, wal };
}

const lsnsOf = async (wal: SegmentedWal) => (await collect(wal.replay())).map((r) => r.lsn);

describe('SegmentedWal.truncateAfter', () => {
  it('keeps the records up to the LSN, deletes later segments whole, and the next append gets the LSN after it', async () => {
    const { io, wal } = await logOf(40);
    await wal.sync();
    const before = (await wal.listSegments()).length;
    const result = await wal.truncateAfter(12n);
    expect(result.afterLsn).toBe(12n);
    expect(result.recordsRemoved).toBe(28n);
    expect(result.segmentsDeleted).toBeGreaterThan(0);
    expect((await wal.listSegments()).length).toBe(before - result.segmentsDeleted);
    expect(wal.nextLsn).toBe(13n);
    expect(wal.durableLsn).toBe(12n);
    expect(await lsnsOf(wal)).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(i + 1)));
    expect(wal.append({ payload: Buffer.from('new 13') })).toBe(13n);
    expect(await wal.sync()).toBe(13n);
    await wal.close();

    const again = await openMemory(io, { segmentTargetSize: 4096 });
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 13 }, (_, i) => BigInt(i + 1)));
    expect(recs[11]!.payload.equals(payloadFor(12n, 400))).toBe(true);
    expect(recs[12]!.payload.toString()).toBe('new 13');
    await again.close();
  });

  it('records the cut in CUT, done, with a generation that grows by one per cut', async () => {
    const { io, wal } = await logOf(20);
    await wal.truncateAfter(15n);
    await wal.truncateAfter(3n);
    const cut = decodeCut((await readSmallFile(io, DIR, CUT_FILE, 64))!, CUT_FILE);
    expect(cut).toMatchObject({ afterLsn: 3n, generation: 2n, state: 'done' });
    await wal.close();
  });

  it('makes the records appended before it durable first, then cuts them too', async () => {
    const { wal } = await logOf(5);
    const cutting = wal.truncateAfter(2n);
    expect(await cutting).toMatchObject({ recordsRemoved: 3n });
    expect(await lsnsOf(wal)).toEqual([1n, 2n]);
    await wal.close();
  });

  it('refuses appends and another cut while it runs, and takes them again after', async () => {
    const { wal } = await logOf(10);
    const cutting = wal.truncateAfter(4n);
    const err = expectWalError(
      () => wal.append({ payload: Buffer.from('x') }),
      WalErrorCode.BAD_STATE,
    );
    expect(err.message).toMatch(/while truncateAfter runs/);
    await expectWalError(wal.truncateAfter(2n), WalErrorCode.BAD_STATE);
    await expectWalError(wal.truncateBefore(2n), WalErrorCode.BAD_STATE);
    await cutting;
    expect(wal.append({ payload: Buffer.from('x') })).toBe(5n);
    await wal.close();
  });

  it('after the last LSN is a no-op; above it, or below the floor, is refused', async () => {
    const { wal } = await logOf(30);
    expect(await wal.truncateAfter(30n)).toEqual({
      afterLsn: 30n,
      recordsRemoved: 0n,
      segmentsDeleted: 0,
    });
    expect(await expectWalError(wal.truncateAfter(31n), WalErrorCode.BAD_ARGUMENT)).toMatchObject({
      message: expect.stringContaining('the log ends at LSN 30'),
    });
    await wal.truncateBefore(20n);
    const floor = wal.floorLsn;
    expect(floor).toBeGreaterThan(1n);
    await expectWalError(wal.truncateAfter(floor - 2n), WalErrorCode.REPLAY_BELOW_FLOOR);
    await expectWalError(wal.truncateAfter(-1n as bigint), WalErrorCode.BAD_ARGUMENT);
    await wal.close();
  });

  it('after floor - 1 removes every record, and the log goes on at the floor', async () => {
    const { io, wal } = await logOf(30);
    await wal.truncateBefore(20n);
    const floor = wal.floorLsn;
    await wal.truncateAfter(floor - 1n);
    expect(await lsnsOf(wal)).toEqual([]);
    expect(wal.append({ payload: Buffer.from('again') })).toBe(floor);
    await wal.sync();
    await wal.close();
    const again = await openMemory(io, { segmentTargetSize: 4096 });
    expect((await collect(again.replay())).map((r) => r.lsn)).toEqual([floor]);
    await again.close();
  });

  it('refuses a cut inside an atomic batch, naming the batch, and cuts on either side of it', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    wal.append({ payload: Buffer.from('one') });
    wal.appendBatch([2, 3, 4].map((i) => ({ payload: Buffer.from(`b${i}`) })));
    wal.append({ payload: Buffer.from('five') });
    expect(await expectWalError(wal.truncateAfter(3n), WalErrorCode.BAD_ARGUMENT)).toMatchObject({
      message: expect.stringContaining('atomic batch of LSNs 2..4'),
    });
    expect(wal.append({ payload: Buffer.from('six') })).toBe(6n);
    await wal.truncateAfter(4n);
    expect(await lsnsOf(wal)).toEqual([1n, 2n, 3n, 4n]);
    await wal.truncateAfter(1n);
    expect(await lsnsOf(wal)).toEqual([1n]);
    await wal.close();
  });

  it('cuts encrypted segments, and the next records go to a segment of their own', async () => {
    const { io, wal } = await logOf(20, { encryption: testRing() });
    await wal.truncateAfter(9n);
    expect(wal.append({ payload: Buffer.from('ten') })).toBe(10n);
    await wal.sync();
    await wal.close();
    const again = await openMemory(io, { segmentTargetSize: 4096, encryption: testRing() });
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
    expect(recs[9]!.payload.toString()).toBe('ten');
    await again.close();
  });

  it('a replay started before the cut fails with WAL_TRUNCATED rather than hand out a record of the new history', async () => {
    const { wal } = await logOf(40);
    await wal.sync();
    const iter = wal.replay()[Symbol.asyncIterator]();
    for (let i = 1n; i <= 10n; i++) expect((await iter.next()).value.lsn).toBe(i);
    await wal.truncateAfter(7n);
    for (let i = 8n; i <= 12n; i++) wal.append({ payload: Buffer.from(`new ${i}`) });
    await wal.sync();
    expect(await expectWalError(iter.next(), WalErrorCode.TRUNCATED)).toMatchObject({
      details: { lsn: 7n },
    });
    // A page read before the cut that ends above it is refused too; from the cut on, fine.
    expect((await wal.replayFromLimit(1n, 5)).records.length).toBe(5);
    expect((await wal.replayFromLimit(8n, 10)).records[0]!.payload.toString()).toBe('new 8');
    await wal.close();
  });

  it('a replay refuses a record above a cut made since it started, even one it had read already', async () => {
    const { wal } = await logOf(40);
    await wal.sync();
    const iter = wal.replay()[Symbol.asyncIterator]();
    for (let i = 1n; i <= 3n; i++) expect((await iter.next()).value.lsn).toBe(i);
    await wal.truncateAfter(5n);
    // LSNs 4 and 5 are in both histories; 6 was read with the first records, before the cut.
    expect((await iter.next()).value.lsn).toBe(4n);
    expect((await iter.next()).value.lsn).toBe(5n);
    expect(await expectWalError(iter.next(), WalErrorCode.TRUNCATED)).toMatchObject({
      details: { lsn: 5n },
      message: expect.stringContaining('it was to hand out LSN 6'),
    });
    expect(await iter.next()).toEqual({ done: true, value: undefined });
    await wal.close();
  });

  it('is refused on a read-only opener, a closed log and a poisoned one', async () => {
    const { io, wal } = await logOf(10);
    await wal.sync();
    const reader = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    await expectWalError(reader.truncateAfter(3n), WalErrorCode.READ_ONLY);
    await reader.close();
    await wal.close();
    await expectWalError(wal.truncateAfter(3n), WalErrorCode.CLOSED);
  });
});
