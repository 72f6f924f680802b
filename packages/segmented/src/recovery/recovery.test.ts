import { join } from 'node:path';
import { encodeRecordFrame, recordFrameSize } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import {
  appendRaw,
  closedLogWith,
  collect,
  DIR,
  fileSize,
  flipByte,
  openMemory,
} from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

/** A frame-shaped tail whose CRC cannot match: what a write cut by a crash leaves. */
function tornBytes(): Buffer {
  const b = Buffer.alloc(60, 0xab);
  b.writeUInt32LE(200, 4);
  return b;
}

describe('recovery on open', () => {
  it('cuts a torn tail, fsyncs the cut, and reports it', async () => {
    const { io, segments } = await closedLogWith(20);
    const active = segments.at(-1)!.path;
    const at = await appendRaw(io, active, tornBytes());
    const faulty = new FaultyStorageIo(io);
    const wal = await SegmentedWal.open({ dir: DIR, io: faulty, segmentTargetSize: 4096 });
    expect(wal.recoveryReport.tornTail).toMatchObject({
      segment: active,
      offset: at,
      bytes: 60,
      cut: true,
    });
    expect(await fileSize(io, active)).toBe(at);
    // The cut is durable: a power loss right after open still sees the shorter file.
    expect(faulty.counts.fsync + faulty.counts.fdatasync).toBeGreaterThan(0);
    expect(io.durableBytes(active)!.length).toBe(at);
    expect(wal.nextLsn).toBe(21n);
    expect(wal.append({ payload: payloadFor(21n, 100) })).toBe(21n);
    await wal.sync();
    expect((await collect(wal.replay())).length).toBe(21);
    await wal.close();
  });

  it("recovery 'strict' refuses a torn tail", async () => {
    const { io, segments } = await closedLogWith(5);
    const at = await appendRaw(io, segments.at(-1)!.path, tornBytes());
    const err = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, recovery: 'strict' }),
      'WAL_CORRUPT',
    );
    expect(err.details).toMatchObject({ segment: segments.at(-1)!.path, offset: at });
  });

  it('a read-only opener reports a torn tail without cutting it', async () => {
    const { io, segments } = await closedLogWith(5);
    const path = segments.at(-1)!.path;
    const at = await appendRaw(io, path, tornBytes());
    const ro = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    expect(ro.recoveryReport.tornTail).toMatchObject({ offset: at, cut: false });
    expect(await fileSize(io, path)).toBe(at + 60);
    expect((await collect(ro.replay())).length).toBe(5);
    await ro.close();
  });

  it('zero-filled space after the last frame is the end of the log, not damage', async () => {
    const { io, segments } = await closedLogWith(5);
    const path = segments.at(-1)!.path;
    const size = await appendRaw(io, path, Buffer.alloc(8192));
    const wal = await SegmentedWal.open({ dir: DIR, io, recovery: 'strict' });
    expect(wal.recoveryReport.tornTail).toBeNull();
    expect(wal.nextLsn).toBe(6n);
    wal.append({ payload: payloadFor(6n) });
    await wal.sync();
    expect((await collect(wal.replay())).map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(size).toBeGreaterThan(64);
    await wal.close();
  });

  it("with verify: 'all', a bit flip in the middle of a sealed segment is WAL_CORRUPT naming segment and offset", async () => {
    const { io, segments } = await closedLogWith(200);
    expect(segments.length).toBeGreaterThan(3);
    const victim = segments[1]!;
    const frameSize = 8 + 12 + 4 + 100;
    const damagedFrame = 64 + 10 * frameSize;
    await flipByte(io, victim.path, damagedFrame + 40);
    const err = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, verify: 'all' }),
      'WAL_CORRUPT',
    );
    expect(err.details).toMatchObject({ segment: victim.path, offset: damagedFrame });
    expect(err.message).toMatch(/salvage/);
  });

  it('damage in the active segment followed by valid frames is WAL_CORRUPT too', async () => {
    const { io, segments } = await closedLogWith(20);
    const path = segments.at(-1)!.path;
    await flipByte(io, path, 64 + 20);
    const err = await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    expect(err.details).toMatchObject({ segment: path, offset: 64 });
  });

  it('a valid frame holding the wrong LSN is WAL_CORRUPT naming both LSNs', async () => {
    const { io, segments } = await closedLogWith(20);
    const path = segments.at(-1)!.path;
    const input = { payload: payloadFor(25n, 100) };
    const frame = Buffer.alloc(recordFrameSize(input));
    encodeRecordFrame(frame, 0, 25n, input);
    const offset = await fileSize(io, path);
    await appendRaw(io, path, frame);
    const err = await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    expect(err.details).toMatchObject({ segment: path, offset });
    expect(err.message).toContain('a valid frame holds LSN 25 where LSN 21 was expected');
  });

  it('a hole of lost unsynced writes followed by later frames is a torn tail, not corruption', async () => {
    const { io, segments } = await closedLogWith(5);
    const path = segments.at(-1)!.path;
    const bytes = io.fileBytes(path)!;
    const lastFrame = bytes.subarray(bytes.length - 124); // 8 + 12 + 4 (time) + 100
    // What a crash leaves when a later write reached the disk and an earlier one did not:
    // the sector the earlier one was in reads as zeros to its end.
    const at = bytes.length;
    const hole = Buffer.alloc(1024 - at);
    await appendRaw(io, path, Buffer.concat([hole, lastFrame]));
    await expectWalError(SegmentedWal.open({ dir: DIR, io, recovery: 'strict' }), 'WAL_CORRUPT');
    const wal = await SegmentedWal.open({ dir: DIR, io });
    expect(wal.recoveryReport.tornTail).toMatchObject({
      offset: at,
      bytes: hole.length + 124,
      cut: true,
    });
    expect(wal.recoveryReport.tornTail!.reason).toMatch(/hole/);
    expect(wal.nextLsn).toBe(6n);
    await wal.close();
  });

  it("with verify: 'all', a missing middle segment is WAL_MISSING_SEGMENT", async () => {
    const { io, segments } = await closedLogWith(200);
    await io.unlink(segments[2]!.path);
    const err = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, verify: 'all' }),
      'WAL_MISSING_SEGMENT',
    );
    expect(err.details.missingFrom).toBe(segments[2]!.firstLsn);
    expect(err.details.missingTo).toBe(segments[3]!.firstLsn - 1n);
  });

  it('a damaged segment header is WAL_CORRUPT', async () => {
    const { io, segments } = await closedLogWith(200);
    await flipByte(io, segments[1]!.path, 20);
    const err = await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_CORRUPT');
    expect(String(err.message)).toContain(segments[1]!.path);
  });

  it('removes unfinished segment creations and floor updates', async () => {
    const { io, segments } = await closedLogWith(10);
    const tmp = `${segments.at(-1)!.path.replace(/\d+\.wal$/, '00000000000000000011.wal')}.tmp`;
    await appendRaw(io, tmp, Buffer.alloc(64, 1));
    await appendRaw(io, join(DIR, 'FLOOR.tmp'), Buffer.alloc(12, 1));
    const wal = await SegmentedWal.open({ dir: DIR, io });
    expect(wal.recoveryReport.removedFiles.sort()).toEqual([join(DIR, 'FLOOR.tmp'), tmp].sort());
    expect(await io.stat(tmp)).toBeNull();
    expect(wal.nextLsn).toBe(11n);
    await wal.close();
  });

  it('an empty directory becomes a log whose first LSN is 1', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    expect(wal.nextLsn).toBe(1n);
    expect(wal.floorLsn).toBe(1n);
    expect((await wal.listSegments()).map((s) => s.firstLsn)).toEqual([1n]);
    await wal.close();
  });
});
