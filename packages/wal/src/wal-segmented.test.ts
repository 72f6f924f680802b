import { isWalError, KeyRing } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Batch } from './batch.js';
import { Wal } from './wal.js';

afterEach(removeTempDirs);

const payload = (i: number) => Buffer.from(`payload-${i}-${'x'.repeat(i % 50)}`);

async function collect(iterable: AsyncIterable<{ lsn: bigint; payload: Buffer }>) {
  const out: string[] = [];
  for await (const record of iterable) out.push(`${record.lsn}:${record.payload.toString()}`);
  return out;
}

describe('Wal over SegmentedWal (real files)', () => {
  it('reports what it did in objects JSON.stringify writes, LSNs as decimal strings', async () => {
    const dir = tempDir();
    let wal = await Wal.open(dir).storageIo('sync-fs');
    await wal.appendMany([payload(1), payload(2), payload(3)]);
    await wal.close();
    wal = await Wal.open(dir).storageIo('sync-fs');
    const sent = (value: unknown) => JSON.parse(JSON.stringify(value));
    expect(sent(wal.stats())).toMatchObject({ lastLsn: '3', durableLsn: '3' });
    expect(sent(wal.recovery)).toMatchObject({ lastLsn: '3', floorLsn: '1', tornTail: null });
    expect(sent(await wal.segments())).toEqual([
      expect.objectContaining({ firstLsn: '1', lastLsn: '3', sealed: false }),
    ]);
    expect(sent(await wal.truncateAfter(1n))).toEqual({
      afterLsn: '1',
      recordsRemoved: '2',
      segmentsDeleted: 0,
    });
    await wal.close();
  });

  // sync-fs completes each write at its flush, so the only appends a loop that never yields
  // can hold are those a missing file holds; on io_uring a loaded machine may leave writes in
  // flight and the queue full for a moment (rollover.test.ts covers io_uring below the Wal).
  it('a plain append() loop that never yields rolls over through small segments without holding an append', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir)
      .durability('none')
      .segmentSize(256 * 1024)
      .storageIo('sync-fs')
      .build();
    const record = Buffer.alloc(1000, 3);
    // About 80 rollovers, several between two full queues (8 MiB), and no await in between.
    for (let i = 0; i < 20_000; i++) void wal.append(record);
    expect(wal.stats().blockedAppends).toBe(0);
    expect(await wal.sync()).toBe(20_000n);
    await wal.close();
    const again = await Wal.open(dir).build();
    let records = 0;
    await again.replay(1n, () => {
      records++;
    });
    expect(records).toBe(20_000);
    await again.close();
  });

  it("zero-fills ahead by default with durability 'sync' only, and the setter overrides it", async () => {
    const state = async (configure: (dir: string) => ReturnType<typeof Wal.open>) => {
      const wal = await configure(tempDir()).storageIo('sync-fs').build();
      await wal.append(payload(1));
      const { zeroFill } = wal.stats().storage as { zeroFill: { state: string } };
      await wal.close();
      return zeroFill.state;
    };
    expect(await state((dir) => Wal.open(dir))).toBe('on');
    expect(await state((dir) => Wal.open(dir).durability('none'))).toBe('off');
    expect(await state((dir) => Wal.open(dir).zeroFillAhead(0))).toBe('off');
    expect(await state((dir) => Wal.open(dir).durability('flush').zeroFillAhead(65_536))).toBe(
      'on',
    );
  });

  it('starts writeback ahead of the final sync of a bulk append, unless turned off', async () => {
    const writeback = async (configure: (dir: string) => ReturnType<typeof Wal.open>) => {
      const wal = await configure(tempDir())
        .durability('none')
        .writeBufferSize(16 * 1024)
        .storageIo('sync-fs')
        .build();
      const record = Buffer.alloc(1000, 7);
      for (let i = 1; i <= 300; i++) {
        await wal.append(record);
        // Let the writes complete now and then, as a producer that yields does.
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await wal.sync();
      const stats = wal.stats().storage as { writeback: { state: string; ranges: number } };
      await wal.close();
      return stats.writeback;
    };
    const on = await writeback((dir) => Wal.open(dir).writebackAhead(64 * 1024));
    expect(on.state).toBe('on');
    expect(on.ranges).toBeGreaterThanOrEqual(3);
    expect(await writeback((dir) => Wal.open(dir).writebackAhead(0))).toMatchObject({
      state: 'off',
      ranges: 0,
    });
    expectWalError(() => Wal.open(tempDir()).writebackAhead(-1), 'WAL_BAD_ARGUMENT');
  });

  it('replays every record across sealed (mmap) and active segments, also after reopen', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).segmentSize(4096).storageIo('sync-fs').build();
    const n = 600;
    const lsns = await Promise.all(Array.from({ length: n }, (_, i) => wal.append(payload(i))));
    expect(lsns.at(-1)).toBe(BigInt(n));
    const segments = await wal.segments();
    expect(segments.length).toBeGreaterThan(3);
    const expected = Array.from({ length: n }, (_, i) => `${i + 1}:${payload(i).toString()}`);
    expect(await collect(wal.iterator(1n))).toEqual(expected);
    expect(await collect(wal.iterator(401n))).toEqual(expected.slice(400));
    await wal.shutdown(5000);

    const again = await Wal.open(dir).segmentSize(4096).storageIo('sync-fs').build();
    expect(again.lastLsn).toBe(BigInt(n));
    const seen: string[] = [];
    await again.replay(1n, (record) => {
      seen.push(`${record.lsn}:${record.payload.toString()}`);
    });
    expect(seen).toEqual(expected);
    expect(await again.append(Buffer.from('next'))).toBe(BigInt(n + 1));
    await again.close();
  });

  for (const durability of ['sync', 'flush', 'none', 'interval'] as const) {
    it(`durability '${durability}': concurrent appends, shutdown, and all of them after reopen`, async () => {
      const dir = tempDir();
      const wal = await Wal.open(dir)
        .durability(durability)
        .syncIntervalMs(5)
        .storageIo('sync-fs')
        .build();
      const lsns = await Promise.all(Array.from({ length: 300 }, (_, i) => wal.append(payload(i))));
      expect(lsns).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i + 1)));
      if (durability === 'sync') expect(wal.durableLsn).toBe(300n);
      await wal.shutdown(5000);
      const again = await Wal.open(dir).storageIo('sync-fs').build();
      expect(again.durableLsn).toBe(300n);
      expect(await collect(again.iterator(1n))).toHaveLength(300);
      await again.close();
    });
  }

  it('appends batches atomically and reads them back in order', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).storageIo('sync-fs').build();
    await wal.append(Buffer.from('a'));
    const last = await wal.appendBatch(new Batch().add(Buffer.from('b')).add(Buffer.from('c')));
    expect(last).toBe(3n);
    expect(await collect(wal.iterator(1n))).toEqual(['1:a', '2:b', '3:c']);
    await wal.close();
  });

  it('tails live records across segment rollovers', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).segmentSize(4096).storageIo('sync-fs').build();
    const controller = new AbortController();
    const seen: bigint[] = [];
    const following = (async () => {
      for await (const record of wal.tail(1n, { signal: controller.signal })) {
        seen.push(record.lsn);
        if (seen.length === 300) break;
      }
    })();
    for (let i = 0; i < 300; i++) await wal.append(payload(i));
    await following;
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i + 1)));
    await wal.close();
  });

  it('encrypts segments with a key ring and reads them back', async () => {
    const dir = tempDir();
    const ring = new KeyRing({ 1: KeyRing.generateKey() }, 1);
    const wal = await Wal.open(dir).segmentSize(4096).encryption(ring).storageIo('sync-fs').build();
    await Promise.all(Array.from({ length: 200 }, (_, i) => wal.append(payload(i))));
    expect(await collect(wal.iterator(1n))).toHaveLength(200);
    await wal.close();
  });

  it('truncateBefore drops whole segments and replay below the floor fails', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).segmentSize(4096).storageIo('sync-fs').build();
    await Promise.all(Array.from({ length: 400 }, (_, i) => wal.append(payload(i))));
    const result = await wal.truncateBefore(300n);
    expect(result.segmentsDeleted).toBeGreaterThan(0);
    expect(wal.floorLsn).toBeGreaterThan(1n);
    await expectWalError(collect(wal.iterator(1n)), 'WAL_REPLAY_BELOW_FLOOR');
    expect((await collect(wal.iterator(300n)))[0]).toMatch(/^300:/);
    await wal.close();
  });

  it('reports the backend in use and why, and the engine counters', async () => {
    const wal = await Wal.open(tempDir()).storageIo('sync-fs').build();
    await wal.append(Buffer.from('x'));
    const { backend, segmentsCreated, storage } = wal.stats();
    expect(backend.name).toBe('sync-fs');
    expect(segmentsCreated).toBe(1);
    expect(storage.syncs).toBeGreaterThan(0);
    expect(backend.reason.length).toBeGreaterThan(0);
    await wal.close();
  });
});

describe('Wal over SegmentedWal with fault injection', () => {
  async function faultyWal({ dsyncWrites = true } = {}) {
    const memory = new MemoryStorageIo();
    const faulty = new FaultyStorageIo(memory, { dsyncWrites });
    const wal = await Wal.open('/log').storageIo(faulty).build();
    return { wal, faulty };
  }

  it.each([
    { sync: 'fdatasync', dsyncWrites: false, op: 'fdatasync' as const },
    { sync: 'dsync write', dsyncWrites: true, op: 'write' as const },
  ])(
    'EIO on the $sync of a group poisons the log, and its waiters learn their outcome is unknown',
    async ({ dsyncWrites, op }) => {
      const { wal, faulty } = await faultyWal({ dsyncWrites });
      expect(await wal.append(Buffer.from('durable'))).toBe(1n);
      faulty.inject({ kind: 'eio', op, nth: 1 });
      const group = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          expectWalError(wal.append(payload(i)), 'WAL_OUTCOME_UNKNOWN'),
        ),
      );
      // None of them was acknowledged, and after a failed sync nobody knows whether their
      // bytes reached the disk: each learns its LSN, and why (the EIO).
      for (const [i, error] of group.entries()) {
        expect(error).toMatchObject({ details: { lsn: BigInt(i + 2) } });
        expect(isWalError(error.cause, 'WAL_POISONED')).toBe(true);
        expect(error.message).toContain('EIO');
      }
      await expectWalError(wal.append(Buffer.from('later')), 'WAL_POISONED');
      await expectWalError(wal.sync(), 'WAL_POISONED');
      expect(wal.durableLsn).toBe(1n);
      await wal.close();
    },
  );

  it('ENOSPC rejects the records that did not fit and appends work again once space is free', async () => {
    const { wal, faulty } = await faultyWal();
    expect(await wal.append(Buffer.from('first'))).toBe(1n);
    faulty.inject({ kind: 'enospc', afterBytes: 0 });
    const failed = await Promise.allSettled([wal.append(payload(1)), wal.append(payload(2))]);
    for (const result of failed) {
      expect(isWalError((result as PromiseRejectedResult).reason, 'WAL_NO_SPACE')).toBe(true);
    }
    faulty.clearFaults();
    expect(await wal.append(Buffer.from('after'))).toBe(2n);
    expect(await collect(wal.iterator(1n))).toEqual(['1:first', '2:after']);
    await wal.close();
  });

  it("ENOSPC that takes records acknowledged under 'none': sync() says the log is poisoned, not that none was acknowledged", async () => {
    const memory = new MemoryStorageIo();
    const faulty = new FaultyStorageIo(memory, { seed: 1 });
    const wal = await Wal.open('/log').storageIo(faulty).durability('none').build();
    expect(await wal.append(Buffer.from('first'))).toBe(1n);
    await wal.sync();
    faulty.inject({ kind: 'enospc', afterBytes: 0 });
    expect(await wal.append(payload(1))).toBe(2n);
    const error = await expectWalError(wal.sync(), 'WAL_POISONED');
    expect(error.message).toContain("records 2..2 were acknowledged (durability 'none')");
    await wal.close();
  });

  it('an append retried the moment WAL_NO_SPACE arrives is taken once space is free', async () => {
    const { wal, faulty } = await faultyWal();
    faulty.inject({ kind: 'enospc', afterBytes: 0 });
    const lsn = await wal.append(payload(1)).catch((error: unknown) => {
      expect(isWalError(error, 'WAL_NO_SPACE')).toBe(true);
      faulty.clearFaults();
      return wal.append(payload(1));
    });
    expect(lsn).toBe(1n);
    expect(await collect(wal.iterator(1n))).toEqual([`1:${payload(1).toString()}`]);
    await wal.close();
  });
});
