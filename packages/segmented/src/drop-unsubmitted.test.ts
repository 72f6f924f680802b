import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, testRing } from '../test/helpers.js';
import { SegmentedWal, type SegmentedWalConfig } from './index.js';

async function lsnsAfterReopen(
  io: MemoryStorageIo,
  config: Partial<SegmentedWalConfig> = {},
): Promise<bigint[]> {
  const wal = await SegmentedWal.open({ dir: DIR, io, recovery: 'strict', ...config });
  const records = await collect(wal.replay());
  await wal.close();
  for (const r of records) expect(r.payload).toEqual(payloadFor(r.lsn));
  return records.map((r) => r.lsn);
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));

describe('dropUnsubmittedAbove', () => {
  for (const [name, config] of [
    ['plain', {}],
    ['encrypted', { encryption: testRing() }],
    ['direct I/O', { directIo: true }],
  ] as const) {
    it(`forgets the buffered records after the LSN, and the log goes on from there (${name})`, async () => {
      const io = new MemoryStorageIo();
      const wal = await SegmentedWal.open({ dir: DIR, io, ...config });
      for (let i = 1n; i <= 10n; i++) wal.append({ payload: payloadFor(i) });
      await wal.flush();
      for (let i = 11n; i <= 15n; i++) wal.append({ payload: payloadFor(i) });
      expect(wal.submittedLsn).toBe(10n);

      expect(wal.dropUnsubmittedAbove(12n)).toBe(12n);
      expect(wal.nextLsn).toBe(13n);
      expect(wal.append({ payload: payloadFor(13n) })).toBe(13n);
      await wal.close();
      expect(await lsnsAfterReopen(io, config)).toEqual(upTo(13));
    });
  }

  it('keeps a batch whole when the LSN falls inside it', async () => {
    const io = new MemoryStorageIo();
    const wal = await SegmentedWal.open({ dir: DIR, io });
    wal.append({ payload: payloadFor(1n) });
    await wal.flush();
    wal.appendBatch([2n, 3n, 4n].map((lsn) => ({ payload: payloadFor(lsn) })));
    wal.append({ payload: payloadFor(5n) });
    expect(wal.dropUnsubmittedAbove(2n)).toBe(4n);
    await wal.close();
    expect(await lsnsAfterReopen(io)).toEqual(upTo(4));
  });

  it('never recalls what was handed to the StorageIo, completed or not', async () => {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory);
    const wal = await SegmentedWal.open({ dir: DIR, io });
    io.holdCompletions();
    for (let i = 1n; i <= 5n; i++) wal.append({ payload: payloadFor(i) });
    const flushed = wal.flush();
    for (let i = 6n; i <= 8n; i++) wal.append({ payload: payloadFor(i) });
    expect(wal.writtenLsn).toBe(0n);
    expect(wal.submittedLsn).toBe(5n);

    expect(wal.dropUnsubmittedAbove(0n)).toBe(5n);
    io.releaseCompletions();
    expect(await flushed).toBe(5n);
    await wal.close();
    expect(await lsnsAfterReopen(memory)).toEqual(upTo(5));
  });

  it('rejects a sync waiting for a dropped record, which nothing could cover', async () => {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory);
    const wal = await SegmentedWal.open({ dir: DIR, io });
    io.holdCompletions();
    wal.append({ payload: payloadFor(1n) });
    const first = wal.sync();
    // A round is under way: these wait in the buffer, and the sync for them waits too.
    for (let i = 2n; i <= 3n; i++) wal.append({ payload: payloadFor(i) });
    const synced = wal.sync();
    expect(wal.dropUnsubmittedAbove(1n)).toBe(1n);
    const settled = await Promise.race([
      synced.then(String, (error: unknown) => error),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 100)),
    ]);
    expect(settled).toMatchObject({ code: 'WAL_CLOSED', details: { lsn: 2n } });
    io.releaseCompletions();
    expect(await first).toBe(1n);
    await wal.close();
    expect(await lsnsAfterReopen(memory)).toEqual(upTo(1));
  });

  it('keeps records whose full buffers already went out, across many direct-I/O writes', async () => {
    const io = new MemoryStorageIo();
    // Small buffers: full ones go out at once, each ending at a block boundary with the
    // frame across it carried over to the next write.
    const config = { directIo: true, writeBufferSize: 4096 };
    const wal = await SegmentedWal.open({ dir: DIR, io, ...config });
    for (let i = 1n; i <= 300n; i++) wal.append({ payload: payloadFor(i, 100) });
    const submitted = wal.submittedLsn;
    expect(submitted).toBeGreaterThan(0n);
    const kept = wal.dropUnsubmittedAbove(0n);
    expect(kept).toBeGreaterThanOrEqual(submitted);
    expect(kept).toBeLessThan(300n);
    await wal.close();
    const reopened = await SegmentedWal.open({ dir: DIR, io, recovery: 'strict' });
    const lsns = (await collect(reopened.replay())).map((r) => r.lsn);
    await reopened.close();
    expect(lsns).toEqual(upTo(Number(kept)));
  });

  it('drops nothing of a poisoned log and says what may still be in it', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await SegmentedWal.open({ dir: DIR, io });
    wal.append({ payload: payloadFor(1n) });
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expectWalError(wal.sync(), 'WAL_POISONED');
    expect(wal.dropUnsubmittedAbove(0n)).toBe(1n);
    await wal.close();
  });
});
