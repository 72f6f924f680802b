import { basename, join } from 'node:path';
import { isWalError, type WalError, type WalRecord } from '@walnut/codec';
import type { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { closedLogWith, collect, DIR, flipByte, openMemory } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

// Open reads only the newest segment (decision 0311): damage in a sealed one is reported by
// the reader that reaches it, before the damaged record or any later one.

const HEADER = 64;
const FRAME = 8 + 12 + 4 + 100; // frame header, record body, time, payload
/** The frame of the sealed segment that each case damages. */
const NTH = 10;

type Damage = (io: MemoryStorageIo, path: string) => Promise<void>;

async function rewrite(io: MemoryStorageIo, path: string, bytes: Uint8Array): Promise<void> {
  const fd = await io.open(path);
  await io.truncate(fd, 0);
  await io.write(fd, bytes, 0);
  await io.fsync(fd);
  await io.close(fd);
}

const damages: [string, Damage][] = [
  ['a flipped byte', (io, path) => flipByte(io, path, HEADER + NTH * FRAME + 40)],
  [
    'a zeroed run',
    async (io, path) => {
      const bytes = Buffer.from(io.fileBytes(path)!);
      bytes.fill(0, HEADER + NTH * FRAME, HEADER + (NTH + 3) * FRAME);
      await rewrite(io, path, bytes);
    },
  ],
  [
    'a truncation inside a frame',
    async (io, path) => {
      await rewrite(io, path, io.fileBytes(path)!.subarray(0, HEADER + NTH * FRAME + 50));
    },
  ],
  [
    'a truncation at a frame boundary',
    async (io, path) => {
      await rewrite(io, path, io.fileBytes(path)!.subarray(0, HEADER + NTH * FRAME));
    },
  ],
];

/** Reads until the end or the first error; every record handed out is checked as written. */
async function readUntilError(
  records: AsyncIterable<WalRecord>,
  from: bigint,
): Promise<{ last: bigint; error: unknown }> {
  let next = from;
  try {
    for await (const r of records) {
      expect(r.lsn).toBe(next);
      expect(r.payload.equals(payloadFor(r.lsn, 100))).toBe(true);
      next++;
    }
  } catch (error) {
    return { last: next - 1n, error };
  }
  return { last: next - 1n, error: null };
}

async function refusal(opening: Promise<SegmentedWal>): Promise<WalError> {
  const outcome = await opening.then(
    async (wal) => {
      await wal.close();
      return 'opened';
    },
    (error: unknown) => error,
  );
  if (!isWalError(outcome)) throw new Error(`expected a WalError, got ${String(outcome)}`);
  return outcome;
}

function expectDamageAt(error: unknown, path: string, offset: number): void {
  expect(isWalError(error) ? error.code : error).toBe('WAL_CORRUPT');
  expect((error as { details: unknown }).details).toMatchObject({ segment: path, offset });
  expect((error as Error).message).toContain(path);
}

describe('damage in a sealed segment', () => {
  describe.each(damages)('%s', (_name, damage) => {
    async function damagedLog() {
      const { io, segments } = await closedLogWith(200);
      expect(segments.length).toBeGreaterThan(3);
      const victim = segments[1]!;
      await damage(io, victim.path);
      return { io, victim, damagedLsn: victim.firstLsn + BigInt(NTH) };
    }

    it('opens (only the newest segment is read), and replay() stops with WAL_CORRUPT before the damaged record', async () => {
      const { io, victim, damagedLsn } = await damagedLog();
      const wal = await openMemory(io);
      const { last, error } = await readUntilError(wal.replay(), 1n);
      expectDamageAt(error, victim.path, HEADER + NTH * FRAME);
      expect(last).toBeLessThan(damagedLsn);
      await wal.close();
    });

    it('replayFrom() inside the damaged segment stops the same way', async () => {
      const { io, victim, damagedLsn } = await damagedLog();
      const wal = await openMemory(io);
      const from = victim.firstLsn + 2n;
      const { last, error } = await readUntilError(wal.replayFrom(from), from);
      expectDamageAt(error, victim.path, HEADER + NTH * FRAME);
      expect(last).toBeLessThan(damagedLsn);
      await wal.close();
    });

    it('replayFromLimit() refuses the page that would reach it, and pages before it read', async () => {
      const { io, victim } = await damagedLog();
      const wal = await openMemory(io);
      // A page must see the record after its last to say whether more follow.
      const before = await wal.replayFromLimit(victim.firstLsn, NTH - 1);
      expect(before).toMatchObject({ hasMore: true });
      expect(before.records.map((r) => r.lsn)).toEqual(
        Array.from({ length: NTH - 1 }, (_, i) => victim.firstLsn + BigInt(i)),
      );
      const err = await expectWalError(wal.replayFromLimit(1n, 1000), 'WAL_CORRUPT');
      expectDamageAt(err, victim.path, HEADER + NTH * FRAME);
      await wal.close();
    });

    it("open with verify: 'all' refuses it, with advice that fits what it found", async () => {
      const { io, victim } = await damagedLog();
      const err = await refusal(SegmentedWal.open({ dir: DIR, io, verify: 'all' }));
      expect(['WAL_CORRUPT', 'WAL_MISSING_SEGMENT']).toContain(err.code);
      expect(err.message).toContain(victim.path);
      // "No valid frame follows" in the segment, but later segments do: never both claims.
      if (err.message.includes('no valid frame follows'))
        expect(err.message).not.toContain('Valid data follows the damage');
    });
  });

  it('a missing middle segment is WAL_CORRUPT at the end of the segment before it', async () => {
    const { io, segments } = await closedLogWith(200);
    await io.unlink(segments[2]!.path);
    const wal = await openMemory(io);
    const { last, error } = await readUntilError(wal.replay(), 1n);
    expect(last).toBe(segments[2]!.firstLsn - 1n);
    expect((error as { details: unknown }).details).toMatchObject({ segment: segments[1]!.path });
    expect((error as Error).message).toContain(`holds LSNs up to ${segments[3]!.firstLsn - 1n}`);
    await wal.close();
  });

  describe("a segment swapped with another log's", () => {
    /** A log like closedLogWith's, with larger records: its segments hold other LSN ranges. */
    async function otherLog() {
      const { io: other, segments } = await closedLogWith(0);
      const wal = await openMemory(other, { segmentTargetSize: 4096 });
      for (let i = 1n; i <= 150n; i++) wal.append({ payload: Buffer.alloc(150, 0xee) });
      await wal.sync();
      const theirs = await wal.listSegments();
      await wal.close();
      expect(segments.length).toBe(1);
      return { other, theirs };
    }

    it('under another name (its header names another first LSN) is refused at open', async () => {
      const { io, segments } = await closedLogWith(200);
      const { other, theirs } = await otherLog();
      await rewrite(io, segments[1]!.path, other.fileBytes(theirs[1]!.path)!);
      const err = await expectWalError(openMemory(io), 'WAL_CORRUPT');
      expect(err.details).toMatchObject({ segment: segments[1]!.path, offset: 8 });
    });

    it('under its own name (the same first LSN, other records) is refused at open by its log id', async () => {
      const { io, segments } = await closedLogWith(200);
      const { other, theirs } = await otherLog();
      expect(theirs[0]!.firstLsn).toBe(segments[0]!.firstLsn);
      await rewrite(io, segments[0]!.path, other.fileBytes(theirs[0]!.path)!);
      // Format version 2 (decision 0112): every segment names its log, so no record of
      // another log is ever handed out, however its LSNs fit.
      for (const verify of ['newest', 'all'] as const) {
        const err = await refusal(SegmentedWal.open({ dir: DIR, io, verify }));
        expect(err.code).toBe('WAL_CORRUPT');
        expect(err.details).toMatchObject({ segment: segments[0]!.path, offset: 48 });
      }
    });

    it("newer than this log's newest segment is the stray one: refused and set aside by name", async () => {
      const { io, segments } = await closedLogWith(200);
      const other = (await closedLogWith(0)).io;
      const wal = await openMemory(other, { segmentTargetSize: 4096 });
      for (let i = 1n; i <= 400n; i++) wal.append({ payload: Buffer.alloc(150, 0xee) });
      await wal.sync();
      const stray = (await wal.listSegments()).find((s) => s.firstLsn > 210n)!;
      await wal.close();
      const path = join(DIR, basename(stray.path));
      const fd = await io.open(path, { create: true });
      await io.write(fd, other.fileBytes(stray.path)!, 0);
      await io.fsync(fd);
      await io.close(fd);
      await io.syncDirectory(DIR);
      const err = await expectWalError(openMemory(io), 'WAL_CORRUPT');
      expect(err.details).toMatchObject({ segment: path });
      const salvaged = await SegmentedWal.open({ dir: DIR, io, recovery: 'salvage' });
      // Set aside, its LSNs retired (never given out again), and nothing of this log's.
      expect(salvaged.recoveryReport.salvaged.map((d) => d.movedTo)).toEqual([
        undefined,
        `${path}.dropped`,
      ]);
      const kept = await collect(salvaged.replay());
      expect([kept[0]!.lsn, kept.at(-1)!.lsn, kept.length]).toEqual([1n, 200n, 200]);
      expect(segments.length).toBeGreaterThan(1);
      await salvaged.close();
    });

    it('is set aside by salvage, its LSNs recorded as lost, every record of this log kept', async () => {
      const { io, segments } = await closedLogWith(200);
      const { other, theirs } = await otherLog();
      await rewrite(io, segments[0]!.path, other.fileBytes(theirs[0]!.path)!);
      const wal = await SegmentedWal.open({ dir: DIR, io, recovery: 'salvage' });
      const [dropped] = wal.recoveryReport.salvaged;
      expect(dropped).toMatchObject({
        segment: segments[0]!.path,
        movedTo: `${segments[0]!.path}.dropped`,
      });
      expect(dropped!.reason).toMatch(/belongs to another log/);
      expect(wal.recoveryReport.gaps).toEqual([
        { from: segments[0]!.firstLsn, to: segments[1]!.firstLsn - 1n },
      ]);
      const kept = await collect(wal.replay());
      expect(kept[0]!.lsn).toBe(segments[1]!.firstLsn);
      expect(kept.at(-1)!.lsn).toBe(200n);
      await wal.close();
    });
  });
});
