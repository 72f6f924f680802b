import { join } from 'node:path';
import { DURABLE_MARK_SIZE, decodeGaps, GAPS_FILE } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo, type StorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, flipByte, openMemory, testRing } from '../../test/helpers.js';
import { SegmentedWal, type SegmentedWalConfig } from '../index.js';

const FRAME = 8 + 12 + 4 + 100; // frame header, record body, time, payload
const HEADER = 64;

/** A closed log of `n` records of 100 bytes in segments of about 4 KiB (31 records each). */
async function logWith(n: number, config: Partial<SegmentedWalConfig> = {}) {
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, { segmentTargetSize: 4096, ...config });
  for (let i = 1n; i <= BigInt(n); i++) wal.append({ payload: payloadFor(i, 100) });
  await wal.sync();
  const segments = await wal.listSegments();
  await wal.close();
  return { io, segments };
}

const lsns = (from: bigint, to: bigint, except: bigint[] = []) => {
  const out: bigint[] = [];
  for (let l = from; l <= to; l++) if (!except.includes(l)) out.push(l);
  return out;
};

async function salvage(io: StorageIo, config: Partial<SegmentedWalConfig> = {}) {
  return SegmentedWal.open({
    dir: DIR,
    io,
    recovery: 'salvage',
    segmentTargetSize: 4096,
    ...config,
  });
}

/** Every record of the log, checked byte for byte against what was appended. */
async function records(wal: SegmentedWal): Promise<bigint[]> {
  const recs = await collect(wal.replay());
  for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, 100))).toBe(true);
  return recs.map((r) => r.lsn);
}

async function gapsFile(io: MemoryStorageIo) {
  return decodeGaps(io.fileBytes(join(DIR, GAPS_FILE))!, GAPS_FILE);
}

describe('salvage keeps every intact record', () => {
  it('loses only the damaged frame of a sealed segment, and says which LSN', async () => {
    const { io, segments } = await logWith(200);
    const victim = segments[1]!;
    const lost = victim.firstLsn + 10n;
    const at = HEADER + 10 * FRAME;
    await flipByte(io, victim.path, at + 40);
    const wal = await salvage(io);
    expect(await records(wal)).toEqual(lsns(1n, 200n, [lost]));
    const report = wal.recoveryReport;
    expect(report.salvaged).toHaveLength(1);
    expect(report.salvaged[0]).toMatchObject({
      segment: victim.path,
      offset: at,
      bytes: FRAME,
      lostLsns: { from: lost, to: lost },
      splitTo: join(DIR, `${String(lost + 1n).padStart(20, '0')}.wal`),
    });
    expect(report.gaps).toEqual([{ from: lost, to: lost }]);
    expect(await gapsFile(io)).toEqual([{ from: lost, to: lost }]);
    expect(wal.nextLsn).toBe(201n);
    await wal.close();
  });

  it('leaves a log that opens strictly afterwards with the same records, and goes on appending', async () => {
    const { io, segments } = await logWith(200);
    await flipByte(io, segments[2]!.path, HEADER + 3 * FRAME + 50);
    await (await salvage(io)).close();
    const lost = segments[2]!.firstLsn + 3n;
    const wal = await SegmentedWal.open({
      dir: DIR,
      io,
      recovery: 'strict',
      segmentTargetSize: 4096,
    });
    expect(wal.recoveryReport.salvaged).toEqual([]);
    expect(wal.recoveryReport.gaps).toEqual([{ from: lost, to: lost }]);
    expect(wal.append({ payload: payloadFor(201n, 100) })).toBe(201n);
    await wal.sync();
    expect(await records(wal)).toEqual(lsns(1n, 201n, [lost]));
    await wal.close();
    const ro = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    expect(await records(ro)).toEqual(lsns(1n, 201n, [lost]));
    await ro.close();
  });

  it('keeps the records on both sides of several damaged stretches in one segment', async () => {
    const { io, segments } = await logWith(200);
    const victim = segments[1]!;
    await flipByte(io, victim.path, HEADER + 2 * FRAME + 30);
    await flipByte(io, victim.path, HEADER + 3 * FRAME + 30);
    await flipByte(io, victim.path, HEADER + 20 * FRAME + 9);
    const wal = await salvage(io);
    const gone = [victim.firstLsn + 2n, victim.firstLsn + 3n, victim.firstLsn + 20n];
    expect(await records(wal)).toEqual(lsns(1n, 200n, gone));
    expect(wal.recoveryReport.gaps).toEqual([
      { from: gone[0], to: gone[1] },
      { from: gone[2], to: gone[2] },
    ]);
    await wal.close();
  });

  it('records a missing middle segment as a gap and keeps the segments after it', async () => {
    const { io, segments } = await logWith(200);
    const missing = segments[2]!;
    await io.unlink(missing.path);
    await expectWalError(SegmentedWal.open({ dir: DIR, io, verify: 'all' }), 'WAL_MISSING_SEGMENT');
    const wal = await salvage(io);
    const gap = { from: missing.firstLsn, to: segments[3]!.firstLsn - 1n };
    expect(wal.recoveryReport.salvaged).toEqual([
      expect.objectContaining({ segment: segments[3]!.path, lostLsns: gap }),
    ]);
    expect(await records(wal)).toEqual(lsns(1n, 200n).filter((l) => l < gap.from || l > gap.to));
    await wal.close();
    const again = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 });
    expect(again.recoveryReport.gaps).toEqual([gap]);
    await again.close();
  });

  it('moves a segment whose header is unreadable aside, and records its LSNs as lost', async () => {
    const { io, segments } = await logWith(200);
    await flipByte(io, segments[1]!.path, 20);
    const wal = await salvage(io);
    const gap = { from: segments[1]!.firstLsn, to: segments[2]!.firstLsn - 1n };
    expect(wal.recoveryReport.gaps).toEqual([gap]);
    expect(wal.recoveryReport.salvaged[0]).toMatchObject({
      segment: segments[1]!.path,
      movedTo: `${segments[1]!.path}.dropped`,
    });
    expect(await io.stat(`${segments[1]!.path}.dropped`)).not.toBeNull();
    expect(await records(wal)).toEqual(lsns(1n, 200n).filter((l) => l < gap.from || l > gap.to));
    await wal.close();
  });

  it('retires every LSN an unreadable last segment could have held, never handing one out again', async () => {
    const { io, segments } = await logWith(200);
    const last = segments.at(-1)!;
    const size = io.fileBytes(last.path)!.length;
    await flipByte(io, last.path, 20);
    const wal = await salvage(io);
    const retired = { from: last.firstLsn, to: last.firstLsn + BigInt(Math.floor(size / 7)) - 1n };
    expect(wal.recoveryReport.gaps).toEqual([retired]);
    expect(wal.recoveryReport.salvaged[0]).toMatchObject({ lostLsns: retired });
    expect(wal.nextLsn).toBe(retired.to + 1n);
    expect(wal.append({ payload: payloadFor(retired.to + 1n, 100) })).toBe(retired.to + 1n);
    await wal.sync();
    await wal.close();
    const again = await SegmentedWal.open({
      dir: DIR,
      io,
      recovery: 'strict',
      segmentTargetSize: 4096,
    });
    expect(await records(again)).toEqual([...lsns(1n, last.firstLsn - 1n), retired.to + 1n]);
    expect(again.nextLsn).toBe(retired.to + 2n);
    await again.close();
  });

  it('keeps the records after damage in the active segment, and appends after them', async () => {
    const { io, segments } = await logWith(40);
    const active = segments.at(-1)!;
    await flipByte(io, active.path, HEADER + 2 * FRAME + 70);
    await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    const wal = await salvage(io);
    const lost = active.firstLsn + 2n;
    expect(wal.nextLsn).toBe(41n);
    expect(wal.append({ payload: payloadFor(41n, 100) })).toBe(41n);
    await wal.sync();
    expect(await records(wal)).toEqual(lsns(1n, 41n, [lost]));
    await wal.close();
  });

  it('reports a torn end of the active segment after the runs it kept as the torn tail', async () => {
    const { io, segments } = await logWith(40);
    const active = segments.at(-1)!;
    await flipByte(io, active.path, HEADER + 1 * FRAME + 70);
    // The records end where the durable mark the writer left at close begins.
    const end = io.fileBytes(active.path)!.length - DURABLE_MARK_SIZE;
    const cut = end - 30; // the last record's frame is cut short
    const fd = await io.open(active.path);
    await io.truncate(fd, cut);
    await io.close(fd);
    const wal = await salvage(io);
    expect(wal.recoveryReport.tornTail).toMatchObject({
      segment: active.path,
      offset: end - FRAME,
      bytes: FRAME - 30,
      cut: true,
    });
    expect(wal.recoveryReport.gaps).toEqual([
      { from: active.firstLsn + 1n, to: active.firstLsn + 1n },
    ]);
    expect(await records(wal)).toEqual(lsns(1n, 39n, [active.firstLsn + 1n]));
    await wal.close();
  });

  it("cuts a damaged last record before a closing writer's durable mark as the torn tail, so its LSN is reported", async () => {
    const { io, segments } = await logWith(40);
    const active = segments.at(-1)!;
    const last = io.fileBytes(active.path)!.length - DURABLE_MARK_SIZE - FRAME;
    await flipByte(io, active.path, last + 40);
    await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    const wal = await salvage(io);
    expect(wal.recoveryReport.tornTail).toMatchObject({
      segment: active.path,
      offset: last,
      bytes: FRAME + DURABLE_MARK_SIZE,
      cut: true,
    });
    expect(wal.recoveryReport.salvaged).toEqual([]);
    expect(await records(wal)).toEqual(lsns(1n, 39n));
    expect(wal.nextLsn).toBe(40n);
    await wal.close();
  });

  it('works the same on an encrypted log (the kept frames are copied, never re-encrypted)', async () => {
    const encryption = testRing();
    const { io, segments } = await logWith(120, { encryption });
    await flipByte(io, segments[1]!.path, HEADER + 5 * (FRAME + 32) + 60);
    const wal = await salvage(io, { encryption });
    const lost = segments[1]!.firstLsn + 5n;
    expect(await records(wal)).toEqual(lsns(1n, 120n, [lost]));
    await wal.close();
  });

  it('a salvage cut short by a failure leaves a log that refuses to open, and a second salvage finishes it', async () => {
    const { io, segments } = await logWith(200);
    const victim = segments[1]!;
    await flipByte(io, victim.path, HEADER + 7 * FRAME + 40);
    // The copy of the records after the damage is written (its fsync is the first), then
    // the fsync of the damaged segment's cut fails.
    const faulty = new FaultyStorageIo(io);
    faulty.inject({ kind: 'eio', op: 'fsync', nth: 2 });
    await expectWalError(salvage(faulty), 'WAL_IO');
    const copy = join(DIR, `${String(victim.firstLsn + 8n).padStart(20, '0')}.wal`);
    expect(await io.stat(copy)).not.toBeNull();
    expect(await io.stat(join(DIR, GAPS_FILE))).toBeNull();
    // Cut or not, the hole before the copy is not recorded yet: a full check refuses.
    const refused = await SegmentedWal.open({ dir: DIR, io, verify: 'all' }).catch(
      (err: unknown) => err,
    );
    expect(['WAL_CORRUPT', 'WAL_MISSING_SEGMENT']).toContain((refused as { code?: string }).code);
    const wal = await salvage(io);
    expect(await records(wal)).toEqual(lsns(1n, 200n, [victim.firstLsn + 7n]));
    await wal.close();
  });
});
