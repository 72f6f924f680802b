import { FaultyStorageIo, MemoryStorageIo, PowerLossAtStep } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

type Op =
  | { kind: 'append'; size: number }
  | { kind: 'batch'; sizes: number[] }
  | { kind: 'sync'; wait: boolean }
  | { kind: 'flush' }
  | { kind: 'truncate'; back: number }
  | { kind: 'tick' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      size: fc.integer({ min: 0, max: 700 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      back: fc.integer({ min: 0, max: 40 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
);

const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * How new space is made and written: plain appends, fallocate, zeros written ahead, with
 * writeback started ahead, and with direct I/O (whole blocks, a partial one rewritten).
 */
const spaceArb = fc.constantFrom(
  { segmentTargetSize: 4096 },
  { segmentTargetSize: 4096, preallocate: true },
  { segmentTargetSize: 32_768, zeroFillAhead: 8192 },
  { segmentTargetSize: 32_768, writebackAhead: 4096 },
  { segmentTargetSize: 4096, directIo: true },
  { segmentTargetSize: 8192, preallocate: true, directIo: true },
  { segmentTargetSize: 32_768, zeroFillAhead: 8192, directIo: true },
);

describe('power loss (FaultyStorageIo.crash with torn and reordered writes)', () => {
  it('recovers a prefix of what was appended that holds every record a completed sync() covered', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        spaceArb,
        // Unsynced writes lost, or kept page by page out of order.
        fc.boolean(),
        async (ops, seed, space, reorder) => {
          const memory = new MemoryStorageIo();
          const io = new FaultyStorageIo(memory, { seed });
          const config = { dir: DIR, writeBufferSize: 4096, ...space };
          const wal = await SegmentedWal.open({ ...config, io });
          expect(wal.stats().directIo.state).toBe('directIo' in space ? 'on' : 'off');
          const appended = new Map<bigint, Buffer>();
          let acked = 0n;
          const ack = (lsn: bigint) => {
            if (lsn > acked) acked = lsn;
          };
          for (const op of ops) {
            if (op.kind === 'append') {
              const lsn = wal.nextLsn;
              const p = payloadFor(lsn, op.size);
              expect(wal.append({ type: op.size & 0xffff, payload: p })).toBe(lsn);
              appended.set(lsn, p);
            } else if (op.kind === 'batch') {
              const first = wal.nextLsn;
              const recs = op.sizes.map((s, i) => ({
                payload: payloadFor(first + BigInt(i), s),
              }));
              wal.appendBatch(recs);
              for (const [i, r] of recs.entries()) appended.set(first + BigInt(i), r.payload);
            } else if (op.kind === 'sync') {
              const p = wal.sync().then(ack);
              if (op.wait) await p;
              else p.catch(() => {});
            } else if (op.kind === 'flush') {
              await wal.flush();
            } else if (op.kind === 'truncate') {
              const at = wal.durableLsn - BigInt(op.back);
              if (at > 0n) await wal.truncateBefore(at);
            } else {
              await tick();
            }
          }
          const durableAtCrash = acked;
          await io.crash({ tear: true, reorder });
          await wal.close();

          const after = await SegmentedWal.open({
            ...config,
            io: new FaultyStorageIo(memory, { seed: seed + 1 }),
          });
          const recs = await collect(after.replay());
          const floor = after.floorLsn;
          const last = after.nextLsn - 1n;
          expect(last).toBeGreaterThanOrEqual(durableAtCrash);
          expect(recs.length).toBe(Number(last - floor + 1n));
          recs.forEach((r, i) => {
            expect(r.lsn).toBe(floor + BigInt(i));
            expect(r.payload.equals(appended.get(r.lsn)!)).toBe(true);
          });
          // The log goes on.
          expect(after.append({ payload: Buffer.from('next') })).toBe(last + 1n);
          expect(await after.sync()).toBe(last + 1n);
          await after.close();
        },
      ),
      { numRuns: 200, timeout: 10_000 },
    );
  });

  it('a crash before any I/O step of a rollover never leaves a gap and keeps every synced record', async () => {
    const spaces = [
      {},
      { preallocate: true },
      { zeroFillAhead: 8192, segmentTargetSize: 32_768 },
      { directIo: true },
      { directIo: true, zeroFillAhead: 8192, segmentTargetSize: 32_768 },
    ];
    for (const space of spaces) {
      let crashedAfterEverything = false;
      for (let step = 0; !crashedAfterEverything; step++) {
        const memory = new MemoryStorageIo();
        const io = new PowerLossAtStep(memory, { at: step, armed: false });
        const config = { dir: DIR, segmentTargetSize: 8192, writeBufferSize: 4096, ...space };
        const wal = await SegmentedWal.open({ ...config, io });
        io.arm();
        let lsn = 0n;
        try {
          while (wal.activeSegmentFirstLsn === 1n)
            lsn = wal.append({ payload: payloadFor(lsn + 1n, 100) });
          // More records while the rollover runs: they go to the new segment's tmp file.
          for (let i = 0; i < 20; i++) lsn = wal.append({ payload: payloadFor(lsn + 1n, 100) });
        } catch {
          // The power went out under an append (the log is poisoned): stop writing.
        }
        const acked = await wal.sync().catch(() => 0n);
        crashedAfterEverything = !io.cut;
        if (crashedAfterEverything) expect(acked).toBe(lsn);
        await io.crash({ tear: true });
        await wal.close();
        const after = await SegmentedWal.open({ ...config, io: new FaultyStorageIo(memory) });
        expect(after.nextLsn - 1n).toBeGreaterThanOrEqual(acked);
        const recs = await collect(after.replay());
        expect(recs.map((r) => r.lsn)).toEqual(
          Array.from({ length: recs.length }, (_, i) => BigInt(i + 1)),
        );
        for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, 100))).toBe(true);
        expect(after.append({ payload: Buffer.from('next') })).toBe(after.nextLsn - 1n);
        await after.sync();
        await after.close();
      }
    }
  });

  it('a crash before any I/O step of truncateBefore on a full device leaves a whole log with its floor honoured', async () => {
    let crashedAfterEverything = false;
    for (let step = 0; !crashedAfterEverything; step++) {
      const memory = new MemoryStorageIo();
      const io = new PowerLossAtStep(memory, { at: step, armed: false });
      const config = { dir: DIR, segmentTargetSize: 4096, writeBufferSize: 4096 };
      const wal = await SegmentedWal.open({ ...config, io });
      for (let i = 1n; i <= 300n; i++) wal.append({ payload: payloadFor(i, 100) });
      await wal.sync();
      // Earlier truncation recorded a floor, so the full-device path has a FLOOR to remove.
      await wal.truncateBefore(50n);
      io.inject({ kind: 'enospc', afterBytes: 0 });
      io.arm();
      const result = await wal.truncateBefore(200n).catch(() => null);
      crashedAfterEverything = !io.cut;
      if (crashedAfterEverything) expect(result?.segmentsDeleted).toBeGreaterThan(0);
      await io.crash({ tear: true });
      await wal.close();
      const after = await SegmentedWal.open({ ...config, io: new FaultyStorageIo(memory) });
      expect(after.nextLsn).toBe(301n);
      const recs = await collect(after.replay());
      expect(recs.map((r) => r.lsn)).toEqual(
        Array.from({ length: recs.length }, (_, i) => after.floorLsn + BigInt(i)),
      );
      expect(recs.at(-1)!.lsn).toBe(300n);
      expect(after.floorLsn).toBeLessThanOrEqual(200n);
      if (crashedAfterEverything) expect(after.floorLsn).toBeGreaterThan(50n);
      await after.close();
    }
  });

  it('a crash in the middle of truncateBefore leaves a log that opens, with the floor honoured', async () => {
    for (let stopAfter = 0; stopAfter < 10; stopAfter++) {
      const memory = new MemoryStorageIo();
      const io = new FaultyStorageIo(memory, { seed: stopAfter });
      const config = { dir: DIR, segmentTargetSize: 4096, writeBufferSize: 4096 };
      const wal = await SegmentedWal.open({ ...config, io });
      for (let i = 1n; i <= 300n; i++) wal.append({ payload: payloadFor(i, 100) });
      await wal.sync();
      const truncating = wal.truncateBefore(200n).catch(() => null);
      for (let i = 0; i < stopAfter; i++) await tick();
      await io.crash({ tear: true });
      const result = await truncating;
      await wal.close();
      const after = await SegmentedWal.open({ ...config, io: new FaultyStorageIo(memory) });
      expect(after.nextLsn).toBe(301n);
      const recs = await collect(after.replay());
      expect(recs[0]!.lsn).toBe(after.floorLsn);
      expect(recs.at(-1)!.lsn).toBe(300n);
      if (result !== null && result.segmentsDeleted > 0) expect(after.floorLsn).toBeGreaterThan(1n);
      if (after.floorLsn > 1n) {
        expect(() => after.replayFrom(after.floorLsn - 1n)).toThrow(/were deleted/);
      }
      await after.close();
    }
  });
});
