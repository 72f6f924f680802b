import { isWalError } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, openMemory, testRing } from '../../test/helpers.js';
import { SegmentTimeIndex } from './time-index.js';

const T0 = Date.UTC(2026, 10, 24);
const RUNS = 100;

/** The answer by brute force: the first record with time ≥ t, else the LSN after the last. */
function scan(records: { lsn: bigint; time?: number }[], t: number, next: bigint): bigint {
  return records.find((r) => r.time! >= t)?.lsn ?? next;
}

/**
 * segmentsBefore's answer by brute force: the first LSN of the newest segment whose first
 * record is before t, else the first LSN kept.
 */
function newestSegmentBefore(
  records: { lsn: bigint; time?: number }[],
  segments: { firstLsn: bigint }[],
  t: number,
  floor: bigint,
): bigint {
  const timeOf = new Map(records.map((r) => [r.lsn, r.time!]));
  let answer = floor;
  for (const s of segments) if ((timeOf.get(s.firstLsn) ?? t) < t) answer = s.firstLsn;
  return answer;
}

describe('lsnAtTime and segmentsBefore', () => {
  // Many small logs on memory: seconds alone, more on a loaded machine; not a timing.
  it('equal a brute-force scan, over random appends, clock steps and segment sizes', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            step: fc.integer({ min: -50, max: 200 }),
            batch: fc.integer({ min: 0, max: 3 }),
            size: fc.integer({ min: 1, max: 300 }),
          }),
          { minLength: 0, maxLength: 300, size: 'large' },
        ),
        fc.integer({ min: 4096, max: 16384 }),
        fc.boolean(),
        // Mostly within the span of the appends (up to 300 × 200 ms), so most probes land in sealed segments.
        fc.array(fc.integer({ min: -100, max: 40_000 }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (appends, segmentTargetSize, encrypted, probes, cutAt) => {
          let now = T0;
          const wal = await openMemory(new MemoryStorageIo(), {
            segmentTargetSize,
            clock: () => now,
            ...(encrypted ? { encryption: testRing() } : {}),
          });
          // The last LSN of each frame: where a cut may go (a batch stays or goes whole).
          const frameEnds = [0n];
          const append = (from: number) => {
            for (const { step, batch, size } of appends.slice(from)) {
              now += step;
              const payload = Buffer.alloc(size, 1);
              if (batch === 0) wal.append({ payload });
              else wal.appendBatch(Array.from({ length: batch }, () => ({ payload })));
              frameEnds.push(wal.nextLsn - 1n);
            }
          };
          const check = async () => {
            await wal.sync();
            const records = await collect(wal.replay());
            const segments = await wal.listSegments();
            for (const p of probes) {
              const t = T0 + p;
              expect(await wal.lsnAtTime(t)).toBe(scan(records, t, wal.nextLsn));
              const before = await wal.segmentsBefore(t);
              expect(before).toBe(newestSegmentBefore(records, segments, t, wal.floorLsn));
              for (const r of records) if (r.lsn < before) expect(r.time!).toBeLessThan(t);
            }
          };
          append(0);
          // The first lookup in a sealed segment builds its index; the second reads from it.
          await check();
          await check();
          if (cutAt !== undefined) {
            // Indexed segments cut and written again with other times: no index of before the cut is used.
            await wal.truncateAfter(frameEnds[cutAt % frameEnds.length]!);
            now -= 40;
            append(appends.length >> 1);
            await check();
          }
          await wal.close();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('reads a sealed segment whole once, then only a stretch of it from its time index', async () => {
    let bytesRead = 0;
    const io = new (class extends MemoryStorageIo {
      override async read(fd: number, into: Uint8Array, offset: number): Promise<number> {
        const n = await super.read(fd, into, offset);
        bytesRead += n;
        return n;
      }
    })();
    let now = T0;
    const wal = await openMemory(io, { segmentTargetSize: 1 << 20, clock: () => now });
    for (let i = 0; i < 20_000; i++) {
      now += 1;
      wal.append({ payload: Buffer.alloc(100, i) });
    }
    await wal.sync();
    const [sealed] = await wal.listSegments();
    expect(sealed!.sealed).toBe(true);
    const probe = async (t: number) => {
      bytesRead = 0;
      const lsn = await wal.lsnAtTime(t);
      return { lsn, bytesRead };
    };
    const first = await probe(T0 + 5000);
    expect(first.lsn).toBe(5000n);
    expect(first.bytesRead).toBeGreaterThan(1 << 19);
    for (const t of [T0 + 5000, T0 + 1, T0 + 6000, T0 + Number(sealed!.lastLsn)]) {
      const again = await probe(t);
      expect(again.lsn).toBe(BigInt(t - T0));
      // Two first frames of the search (4 KiB each) and at most two index spacings (1 KiB each) plus a frame.
      expect(again.bytesRead).toBeLessThanOrEqual(2 * 4096 + 2 * 1024 + 256);
    }
    await wal.close();
  });

  it('never answers wrong from an index that does not match the segment, and rebuilds it', async () => {
    let now = T0;
    const wal = await openMemory(new MemoryStorageIo(), {
      segmentTargetSize: 16_384,
      clock: () => now,
    });
    for (let i = 0; i < 600; i++) {
      now += 1 + (i % 3);
      if (i % 5 === 0)
        wal.appendBatch([{ payload: Buffer.alloc(40, i) }, { payload: Buffer.alloc(9) }]);
      else wal.append({ payload: Buffer.alloc(i % 200, i) });
    }
    await wal.sync();
    const records = await collect(wal.replay());
    const [sealed] = await wal.listSegments();
    const lookup = (wal as unknown as { timeLookup: { indexes: Map<string, SegmentTimeIndex> } })
      .timeLookup;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            offset: fc.integer({ min: 0, max: sealed!.sizeBytes + 100 }),
            lsn: fc.bigInt({ min: 0n, max: 800n }),
            time: fc.integer({ min: T0 - 10, max: now + 10 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer({ min: T0, max: T0 + 300 }),
        async (entries, t) => {
          // Look once (builds the index), then put entries that name other frames, or none, in its place.
          expect(await wal.lsnAtTime(T0 + 2)).toBe(scan(records, T0 + 2, wal.nextLsn));
          const key = [...lookup.indexes.keys()].at(-1); // the one used last
          const bogus = new SegmentTimeIndex(1n, 1);
          for (const e of [...entries].sort((a, b) => a.offset - b.offset))
            bogus.offer(e.offset, e.lsn < 1n ? 1n : e.lsn, e.time);
          lookup.indexes.set(key!, bogus);
          expect(await wal.lsnAtTime(t)).toBe(scan(records, t, wal.nextLsn));
        },
      ),
      { numRuns: RUNS },
    );
    await wal.close();
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
