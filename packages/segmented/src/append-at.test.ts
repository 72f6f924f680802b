import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, openMemory, testRing } from '../test/helpers.js';

const records = (from: bigint, count: number) =>
  Array.from({ length: count }, (_, i) => ({ payload: payloadFor(from + BigInt(i)) }));

describe('appendBatch at an expected first LSN', () => {
  it('appends when the batch starts at the next LSN', async () => {
    const wal = await openMemory();
    expect(wal.appendBatch(records(1n, 3), 1n)).toBe(3n);
    expect(wal.appendBatch(records(4n, 2), 4n)).toBe(5n);
    await wal.sync();
    const lsns = (await collect(wal.replay())).map((r) => r.lsn);
    expect(lsns).toEqual([1n, 2n, 3n, 4n, 5n]);
    await wal.close();
  });

  it('refuses a gap or an overlap with WAL_LSN_MISMATCH, takes no LSN and writes nothing', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    wal.appendBatch(records(1n, 2), 1n);
    const gap = expectWalError(() => wal.appendBatch(records(4n, 1), 4n), 'WAL_LSN_MISMATCH');
    expect(gap.message).toContain('next LSN is 3');
    expectWalError(() => wal.appendBatch(records(2n, 1), 2n), 'WAL_LSN_MISMATCH');
    expectWalError(() => wal.appendBatch(records(1n, 1), 0n), 'WAL_LSN_MISMATCH');
    expect(wal.nextLsn).toBe(3n);
    expect(wal.appendBatch(records(3n, 1), 3n)).toBe(3n);
    await wal.sync();
    await wal.close();
    const reopened = await openMemory(io);
    const replayed = await collect(reopened.replay());
    expect(replayed.map((r) => r.lsn)).toEqual([1n, 2n, 3n]);
    for (const r of replayed) expect(r.payload.equals(payloadFor(r.lsn))).toBe(true);
    await reopened.close();
  });

  it('checks the LSN across a rollover and in encrypted segments', async () => {
    const wal = await openMemory(new MemoryStorageIo(), {
      segmentTargetSize: 4096,
      encryption: testRing(),
    });
    let next = 1n;
    for (let i = 0; i < 200; i++) next = wal.appendBatch(records(next, 2), next) + 1n;
    expectWalError(() => wal.appendBatch(records(next + 1n, 1), next + 1n), 'WAL_LSN_MISMATCH');
    await wal.sync();
    expect((await wal.listSegments()).length).toBeGreaterThan(1);
    expect((await collect(wal.replay())).length).toBe(400);
    await wal.close();
  });

  it('refuses a first LSN that is not an LSN with WAL_BAD_ARGUMENT', async () => {
    const wal = await openMemory();
    expectWalError(
      () => wal.appendBatch(records(1n, 1), 1 as unknown as bigint),
      'WAL_BAD_ARGUMENT',
    );
    expectWalError(() => wal.appendBatch(records(1n, 1), -1n), 'WAL_BAD_ARGUMENT');
    expect(wal.nextLsn).toBe(1n);
    await wal.close();
  });
});
