import { isWalError } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, openMemory, testRing } from '../../test/helpers.js';

const T0 = Date.UTC(2026, 10, 24);
const RUNS = 100;

/** The answer by brute force: the first record with time ≥ t, else the LSN after the last. */
function scan(records: { lsn: bigint; time?: number }[], t: number, next: bigint): bigint {
  return records.find((r) => r.time! >= t)?.lsn ?? next;
}

describe('lsnAtTime', () => {
  it('equals a brute-force scan, over random appends, clock steps and segment sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            step: fc.integer({ min: -50, max: 200 }),
            batch: fc.integer({ min: 0, max: 3 }),
            size: fc.integer({ min: 1, max: 300 }),
          }),
          { minLength: 0, maxLength: 120 },
        ),
        fc.integer({ min: 4096, max: 16384 }),
        fc.boolean(),
        fc.array(fc.integer({ min: -100, max: 30_000 }), { minLength: 1, maxLength: 8 }),
        async (appends, segmentTargetSize, encrypted, probes) => {
          let now = T0;
          const wal = await openMemory(new MemoryStorageIo(), {
            segmentTargetSize,
            clock: () => now,
            ...(encrypted ? { encryption: testRing() } : {}),
          });
          for (const { step, batch, size } of appends) {
            now += step;
            const payload = Buffer.alloc(size, 1);
            if (batch === 0) wal.append({ payload });
            else wal.appendBatch(Array.from({ length: batch }, () => ({ payload })));
          }
          await wal.sync();
          const records = await collect(wal.replay());
          for (const p of probes) {
            const t = T0 + p;
            expect(await wal.lsnAtTime(t)).toBe(scan(records, t, wal.nextLsn));
          }
          await wal.close();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers on a read-only opener as on the writer', async () => {
    const io = new MemoryStorageIo();
    let now = T0;
    const wal = await openMemory(io, { segmentTargetSize: 4096, clock: () => now });
    for (let i = 0; i < 200; i++) {
      now += 3;
      wal.append({ payload: Buffer.alloc(80, i) });
    }
    await wal.sync();
    await wal.close();
    const reader = await openMemory(io, { readOnly: true });
    expect(await reader.lsnAtTime(T0)).toBe(1n);
    expect(await reader.lsnAtTime(T0 + 301)).toBe(101n);
    expect(await reader.lsnAtTime(T0 + 10_000)).toBe(201n);
    await reader.close();
  });

  it('refuses a time that is not a finite number ≥ 0 with WAL_BAD_ARGUMENT', async () => {
    const wal = await openMemory();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, '5', 5n, undefined]) {
      const err = await wal.lsnAtTime(bad as number).catch((e: unknown) => e);
      expect(isWalError(err, 'WAL_BAD_ARGUMENT')).toBe(true);
    }
    await wal.close();
  });
});
