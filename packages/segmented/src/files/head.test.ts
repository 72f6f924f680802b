import { join } from 'node:path';
import { decodeHead, encodeHead } from '@walnut/codec';
import {
  Errno,
  type IoFd,
  ioErrorFromErrno,
  MemoryStorageIo,
  type OpenOptions,
} from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { closedLogWith, collect, DIR, openMemory } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const HEAD = join(DIR, 'HEAD');

async function headOf(io: MemoryStorageIo): Promise<bigint | null> {
  if ((await io.stat(HEAD)) === null) return null;
  const fd = await io.open(HEAD, { readOnly: true });
  const bytes = Buffer.alloc(12);
  await io.read(fd, bytes, 0);
  await io.close(fd);
  return decodeHead(bytes, HEAD);
}

async function writeHead(io: MemoryStorageIo, bytes: Buffer): Promise<void> {
  const fd = await io.open(HEAD, { create: true, truncate: true });
  await io.write(fd, bytes, 0);
  await io.fsync(fd);
  await io.close(fd);
}

/** A device with no room for a new HEAD once `full` is set; everything else still fits. */
class NoRoomForHead extends MemoryStorageIo {
  full = false;
  private readonly headFds = new Set<IoFd>();

  override async open(path: string, options?: OpenOptions): Promise<IoFd> {
    const fd = await super.open(path, options);
    if (this.full && path.endsWith('HEAD.tmp')) this.headFds.add(fd);
    return fd;
  }

  override async write(fd: IoFd, data: Uint8Array, offset: number): Promise<number> {
    if (this.headFds.has(fd)) throw ioErrorFromErrno(Errno.ENOSPC, 'write', join(DIR, 'HEAD.tmp'));
    return super.write(fd, data, offset);
  }
}

/** Runs `afterListing` once, between a directory listing and the caller seeing it. */
class RolloverAfterListing extends MemoryStorageIo {
  afterListing: (() => Promise<void>) | undefined;

  override async readdir(path: string): Promise<string[]> {
    const names = await super.readdir(path);
    const hook = this.afterListing;
    this.afterListing = undefined;
    await hook?.();
    return names;
  }
}

describe('HEAD: the newest segment is recorded, so its loss is found', () => {
  it('names the newest segment after every rollover', async () => {
    const { io, segments } = await closedLogWith(200);
    expect(segments.length).toBeGreaterThan(3);
    expect(await headOf(io)).toBe(segments.at(-1)!.firstLsn);
  });

  it('a log whose newest segment was deleted does not open, and nothing is changed', async () => {
    const { io, segments } = await closedLogWith(200);
    const newest = segments.at(-1)!;
    await io.unlink(newest.path);
    const before = await io.readdir(DIR);
    const err = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 }),
      'WAL_MISSING_SEGMENT',
    );
    expect(err.message).toContain(newest.path);
    expect(err.details).toMatchObject({ segment: newest.path, missingFrom: newest.firstLsn });
    await expectWalError(
      SegmentedWal.open({ dir: DIR, io, readOnly: true }),
      'WAL_MISSING_SEGMENT',
    );
    expect(await io.readdir(DIR)).toEqual(before);
  });

  it('salvage retires every LSN the missing segment could have held: none is handed out again', async () => {
    const { io, segments } = await closedLogWith(200);
    const newest = segments.at(-1)!;
    await io.unlink(newest.path);
    const wal = await SegmentedWal.open({
      dir: DIR,
      io,
      segmentTargetSize: 4096,
      recovery: 'salvage',
    });
    const [drop] = wal.recoveryReport.salvaged;
    expect(drop).toMatchObject({ segment: newest.path, lostLsns: { from: newest.firstLsn } });
    expect(drop!.lostLsns!.to).toBeGreaterThan(200n);
    expect(wal.nextLsn).toBe(drop!.lostLsns!.to + 1n);
    const lsn = wal.append({ payload: payloadFor(1n, 100) });
    await wal.sync();
    await wal.close();

    const again = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 });
    const lsns = (await collect(again.replay())).map((r) => r.lsn);
    expect(lsns).toEqual([
      ...Array.from({ length: Number(newest.firstLsn - 1n) }, (_, i) => BigInt(i + 1)),
      lsn,
    ]);
    expect(await headOf(io)).toBe(lsn);
    await again.close();
  });

  it('a log written before HEAD opens as before, and its writer records HEAD from then on', async () => {
    const { io, segments } = await closedLogWith(200);
    await io.unlink(HEAD);
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    expect(await headOf(io)).toBe(segments.at(-1)!.firstLsn);
    await wal.close();
    await io.unlink(segments.at(-1)!.path);
    await expectWalError(openMemory(io, { segmentTargetSize: 4096 }), 'WAL_MISSING_SEGMENT');
  });

  it('HEAD behind the newest segment (a crash before its update) is no alarm, and is moved on', async () => {
    const { io, segments } = await closedLogWith(200);
    await writeHead(io, encodeHead(segments.at(-3)!.firstLsn));
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    expect((await collect(wal.replay())).length).toBe(200);
    expect(await headOf(io)).toBe(segments.at(-1)!.firstLsn);
    await wal.close();
  });

  it('a read-only opener whose listing a rollover overtakes takes no new segment for a missing one', async () => {
    const io = new RolloverAfterListing();
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    for (let i = 1n; i <= 50n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const before = wal.activeSegmentFirstLsn;
    io.afterListing = async () => {
      // The writer rolls over, and its new segment is in HEAD, before the reader goes on.
      for (let i = 51n; wal.activeSegmentFirstLsn === before; i++) {
        wal.append({ payload: payloadFor(i, 100) });
      }
      await wal.sync();
    };
    const ro = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
    expect(io.afterListing).toBeUndefined();
    expect(await headOf(io)).toBeGreaterThan(before);
    await ro.close();
    await wal.close();
  });

  it('a damaged HEAD is WAL_CORRUPT; salvage reports it and writes it again', async () => {
    const { io, segments } = await closedLogWith(50);
    const bytes = encodeHead(segments.at(-1)!.firstLsn);
    bytes[2]! ^= 1;
    await writeHead(io, bytes);
    const err = await expectWalError(openMemory(io), 'WAL_CORRUPT');
    expect(err.message).toContain(HEAD);
    const wal = await openMemory(io, { recovery: 'salvage' });
    expect(wal.recoveryReport.salvaged).toMatchObject([{ segment: HEAD, lostLsns: null }]);
    expect((await collect(wal.replay())).length).toBe(50);
    await wal.close();
    expect(await headOf(io)).toBe(segments.at(-1)!.firstLsn);
  });

  it('a device too full for a new HEAD keeps the old one: the rollover goes on, no alarm follows', async () => {
    const io = new NoRoomForHead();
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    for (let i = 1n; i <= 50n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const head = await headOf(io);
    io.full = true;
    for (let i = 51n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 100) });
    expect(await wal.sync()).toBe(200n);
    expect(await headOf(io)).toBe(head);
    expect(await io.readdir(DIR)).not.toContain('HEAD.tmp');
    await wal.close();
    io.full = false;
    const again = await openMemory(io, { segmentTargetSize: 4096 });
    expect((await collect(again.replay())).length).toBe(200);
    await again.close();
  });
});
