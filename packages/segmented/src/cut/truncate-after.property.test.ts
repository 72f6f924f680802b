import { WalErrorCode, type WalRecordInput } from '@walnut/codec';
import {
  FaultyStorageIo,
  MemoryStorageIo,
  PowerLossAtStep,
  UnorderedStorageIo,
} from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, testRing } from '../../test/helpers.js';
import { SegmentedWal, type SegmentedWalConfig } from '../index.js';

/** A log's shape: frames of one record or an atomic batch, with their payload sizes. */
const framesArb = fc.array(
  fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 4 }),
  {
    minLength: 1,
    maxLength: 40,
  },
);

const spaceArb = fc.constantFrom<Partial<SegmentedWalConfig>>(
  { segmentTargetSize: 4096 },
  { segmentTargetSize: 4096, preallocate: true },
  { segmentTargetSize: 32_768, zeroFillAhead: 8192 },
  { segmentTargetSize: 4096, directIo: true },
  { segmentTargetSize: 4096, encryption: testRing() },
);

function payload(lsn: bigint, size: number, history: number): Buffer {
  return Buffer.alloc(size, Number((lsn * 7n + BigInt(history)) % 256n));
}

/** Appends the frames from `first` on; returns each frame's last LSN. */
function appendFrames(wal: SegmentedWal, frames: number[][], history: number): bigint[] {
  const ends: bigint[] = [];
  for (const sizes of frames) {
    const first = wal.nextLsn;
    const records: WalRecordInput[] = sizes.map((s, i) => ({
      payload: payload(first + BigInt(i), s, history),
    }));
    ends.push(records.length === 1 ? wal.append(records[0]!) : wal.appendBatch(records));
  }
  return ends;
}

describe('truncateAfter under power loss (PowerLossAtStep before each of its I/O steps)', () => {
  it('leaves the log as it was before the cut or as it is after it, never a mix, and it goes on from there', {
    timeout: 300_000,
  }, async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        framesArb,
        fc.nat(),
        spaceArb,
        fc.option(fc.nat(), { nil: undefined }),
        async (frames, pick, space, orderSeed) => {
          const config = { dir: DIR, writeBufferSize: 4096, ...space };
          let finished = false;
          for (let step = 0; !finished; step++) {
            runs++;
            const memory = new MemoryStorageIo();
            const io = new PowerLossAtStep(memory, { at: step, armed: false });
            // Half the cases run independent operations in a random order, as io_uring may.
            const ordered =
              orderSeed === undefined ? io : new UnorderedStorageIo(io, { seed: orderSeed + step });
            const wal = await SegmentedWal.open({ ...config, io: ordered });
            const ends = appendFrames(wal, frames, 0);
            const last = ends.at(-1)!;
            await wal.sync();
            // A frame boundary (or 0: every record goes).
            const after = pick % (ends.length + 1) === 0 ? 0n : ends[pick % ends.length]!;
            io.arm();
            const result = await wal.truncateAfter(after).catch((err: unknown) => err);
            finished = !io.cut;
            if (finished)
              expect(result).toMatchObject({ afterLsn: after, recordsRemoved: last - after });
            await io.crash({ tear: true });
            await wal.close();

            const reopened = await SegmentedWal.open({
              ...config,
              io: new FaultyStorageIo(memory),
            });
            const recs = await collect(reopened.replay());
            const kept = BigInt(recs.length);
            // All of it (the cut was not recorded yet) or exactly the records up to the cut.
            expect(kept === last || kept === after).toBe(true);
            if (finished) expect(kept).toBe(after);
            recs.forEach((r, i) => {
              expect(r.lsn).toBe(BigInt(i + 1));
              expect(r.payload.equals(payload(r.lsn, r.payload.length, 0))).toBe(true);
            });
            // The log goes on at the LSN after what it kept, with a new history that survives.
            const more = appendFrames(reopened, frames.slice(0, 3), 1);
            expect(more[0]).toBe(kept + BigInt(frames[0]!.length));
            await reopened.sync();
            await reopened.close();
            const third = await SegmentedWal.open({ ...config, io: new FaultyStorageIo(memory) });
            const all = await collect(third.replay());
            expect(all.length).toBe(Number(more.at(-1)!));
            for (const r of all) {
              const history = r.lsn <= kept ? 0 : 1;
              expect(r.payload.equals(payload(r.lsn, r.payload.length, history))).toBe(true);
            }
            await third.close();
          }
        },
      ),
      { numRuns: 25 },
    );
    expect(runs).toBeGreaterThan(25);
  });

  it('a read-only opener meeting a cut a crash interrupted says so; the next writer finishes it and reports it', async () => {
    const config = { dir: DIR, segmentTargetSize: 4096 };
    let pendingSeen = 0;
    let finished = false;
    for (let step = 0; !finished; step++) {
      const memory = new MemoryStorageIo();
      const io = new PowerLossAtStep(memory, { at: step, armed: false });
      const wal = await SegmentedWal.open({ ...config, io });
      appendFrames(
        wal,
        Array.from({ length: 30 }, () => [300]),
        0,
      );
      await wal.sync();
      io.arm();
      await wal.truncateAfter(10n).catch(() => {});
      finished = !io.cut;
      await io.crash({ tear: true });
      await wal.close();
      const reopen = (readOnly: boolean) =>
        SegmentedWal.open({ ...config, readOnly, io: new FaultyStorageIo(memory) });
      const reader = await reopen(true).catch((err: unknown) => err);
      if (reader instanceof SegmentedWal) {
        // Before the cut was recorded (the whole log), or after it was done.
        expect([30, 10]).toContain((await collect(reader.replay())).length);
        expect(reader.recoveryReport.finishedCut).toBeNull();
        await reader.close();
        continue;
      }
      pendingSeen++;
      const error = expectWalError(() => {
        throw reader;
      }, WalErrorCode.BAD_STATE);
      expect(error.message).toContain('truncateAfter(10)');
      const writer = await reopen(false);
      expect(writer.nextLsn).toBe(11n);
      expect(writer.recoveryReport.finishedCut).toMatchObject({ afterLsn: 10n });
      await writer.close();
      const after = await reopen(true);
      expect((await collect(after.replay())).length).toBe(10);
      await after.close();
    }
    // From the CUT file's rename to its last rewrite, each step leaves the cut pending.
    expect(pendingSeen).toBeGreaterThan(3);
  });
});
