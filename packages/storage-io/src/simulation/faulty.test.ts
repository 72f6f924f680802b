import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectWalError } from '@walnut/codec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import { alignedBuffer } from '../contract/aligned.js';
import { Errno } from '../contract/errors.js';
import { expectBytes } from '../testing/conformance.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { FaultyStorageIo } from './faulty.js';

const bytes = (length: number, fill: number) => Buffer.alloc(length, fill);

describe('FaultyStorageIo scripted faults', () => {
  it('holds completions back while the operations themselves run', async () => {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory);
    const fd = await io.open('/f', { create: true });
    io.holdCompletions();
    const token = io.submitWrite(fd, bytes(10, 7), 0);
    io.flush();
    const completion = io.completion(token);
    let completed = false;
    void completion.then(() => {
      completed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(completed).toBe(false);
    // The bytes are in the file already: handed over, not completed.
    const inner = await memory.open('/f');
    const seen = Buffer.alloc(10);
    expect(await memory.read(inner, seen, 0)).toBe(10);
    expectBytes(seen, bytes(10, 7));
    io.releaseCompletions();
    expect(await completion).toMatchObject({ op: 'write', result: 10 });
  });

  it('releases held completions a few at a time, in arrival order, and holds on', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const fd = await io.open('/f', { create: true });
    io.holdCompletions();
    const tokens = [0, 1, 2].map((i) => io.submitWrite(fd, bytes(4, i), i * 4));
    io.flush();
    const done: number[] = [];
    for (const [i, token] of tokens.entries()) void io.completion(token).then(() => done.push(i));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(io.heldCompletions).toBe(3);
    io.releaseCompletions(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual([0]);
    expect(io.heldCompletions).toBe(2);
    // Still holding: a completion arriving now waits behind the two.
    const late = io.submitWrite(fd, bytes(4, 3), 12);
    io.flush();
    void io.completion(late).then(() => done.push(3));
    await new Promise((resolve) => setTimeout(resolve, 20));
    io.releaseCompletions(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual([0, 1, 2]);
    io.releaseCompletions();
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual([0, 1, 2, 3]);
    expect(io.heldCompletions).toBe(0);
  });

  it('fails the nth fdatasync from now with EIO, once', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const fd = await io.open('/f', { create: true });
    await io.datasync(fd);
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 2 });
    await io.datasync(fd);
    expect(await expectWalError(io.datasync(fd), 'WAL_IO')).toMatchObject({
      details: { errno: Errno.EIO, syscall: 'fdatasync' },
    });
    await io.datasync(fd);
    expect(io.counts.fdatasync).toBe(4);
  });

  it('a failed fdatasync makes nothing durable', async () => {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory);
    const fd = await io.open('/f', { create: true });
    await io.write(fd, bytes(10, 1), 0);
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expectWalError(io.datasync(fd), 'WAL_IO');
    expectBytes(memory.durableBytes('/f'), Buffer.alloc(0));
  });

  it('fails writes with ENOSPC after the byte budget until faults are cleared', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const fd = await io.open('/f', { create: true });
    io.inject({ kind: 'enospc', afterBytes: 1000 });
    await io.write(fd, bytes(600, 1), 0);
    expect(await expectWalError(io.write(fd, bytes(600, 2), 600), 'WAL_NO_SPACE')).toMatchObject({
      details: { errno: Errno.ENOSPC },
    });
    expect(await io.size(fd)).toBe(1000);
    io.clearFaults();
    await io.write(fd, bytes(600, 2), 600);
    expect(await io.size(fd)).toBe(1200);
  });

  it('fails the nth read and the nth syncDirectory with EIO', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const fd = await io.open('/f', { create: true });
    io.inject({ kind: 'eio', op: 'read', nth: 1 });
    io.inject({ kind: 'eio', op: 'syncDirectory', nth: 1 });
    await expect(io.read(fd, Buffer.alloc(1), 0)).rejects.toMatchObject({
      details: { errno: Errno.EIO },
    });
    await expectWalError(io.syncDirectory('/'), 'WAL_IO');
    await io.syncDirectory('/');
  });

  it('fails the nth open with EIO, and the file is not created', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    io.inject({ kind: 'eio', op: 'open', nth: 2 });
    await io.open('/a', { create: true });
    expect(await expectWalError(io.open('/b', { create: true }), 'WAL_IO')).toMatchObject({
      details: { errno: Errno.EIO, syscall: 'open', path: '/b' },
    });
    expect(await io.stat('/b')).toBeNull();
    expect(io.counts.open).toBe(2);
  });

  it('cancels the operation linked behind an injected failure', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const fd = await io.open('/f', { create: true });
    io.inject({ kind: 'eio', op: 'write', nth: 1 });
    const write = io.submitWrite(fd, bytes(10, 1), 0);
    const sync = io.submitDatasync(fd, { linkToPrevious: true });
    expect((await io.completion(write)).result).toBe(-Errno.EIO);
    expect((await io.completion(sync)).result).toBe(-Errno.ECANCELED);
  });

  it('refuses all work after a crash', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const fd = await io.open('/f', { create: true });
    await io.crash();
    expectWalError(() => io.submitWrite(fd, bytes(1, 1), 0), 'WAL_CLOSED');
    await expectWalError(io.open('/g', { create: true }), 'WAL_CLOSED');
  });
});

describe('FaultyStorageIo.crash over memory', () => {
  it('keeps what a completed sync covered and drops the rest', async () => {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory, { seed: 3 });
    await io.mkdir('/wal');
    const fd = await io.open('/wal/seg', { create: true });
    await io.syncDirectory('/wal');
    await io.write(fd, bytes(2048, 1), 0);
    await io.datasync(fd);
    await io.write(fd, bytes(2048, 2), 2048);
    await io.crash({ tear: true });
    const image = memory.fileBytes('/wal/seg')!;
    expectBytes(image.subarray(0, 2048), bytes(2048, 1));
    expect(image.length % 512).toBe(0);
    expect(image.length).toBeLessThan(4096);
    const reborn = new FaultyStorageIo(memory);
    const again = await reborn.open('/wal/seg');
    expect(await reborn.size(again)).toBe(image.length);
  });

  it('keeps a completed dsync write without a sync, and no plain write before it', async () => {
    const memory = new MemoryStorageIo();
    const io = new FaultyStorageIo(memory);
    await io.mkdir('/wal');
    const fd = await io.open('/wal/seg', { create: true });
    await io.syncDirectory('/wal');
    await io.write(fd, bytes(1000, 1), 0);
    await io.completion(io.submitWrite(fd, bytes(1000, 2), 1000, { dsync: true }));
    await io.write(fd, bytes(1000, 3), 2000);
    await io.crash();
    expectBytes(memory.fileBytes('/wal/seg')!, Buffer.concat([bytes(1000, 0), bytes(1000, 2)]));
  });
});

describe('FaultyStorageIo.crash over real files', () => {
  let dir = '';
  afterEach(removeTempDirs);

  /** A real file whose first 1000 bytes (all 1) are durable, with its name. */
  async function fileWithSyncedPrefix() {
    dir = tempDir('walnut-crash-');
    const io = new FaultyStorageIo(new SyncFsStorageIo());
    const path = join(dir, 'seg');
    const fd = await io.open(path, { create: true });
    await io.syncDirectory(dir);
    await io.write(fd, bytes(1000, 1), 0);
    await io.datasync(fd);
    return { io, path, fd };
  }

  it('truncates back to the synced length and restores overwritten bytes', async () => {
    const { io, path, fd } = await fileWithSyncedPrefix();
    await io.write(fd, bytes(100, 9), 200);
    await io.write(fd, bytes(3000, 2), 1000);
    await io.crash();
    expectBytes(readFileSync(path), bytes(1000, 1));
  });

  it('undoes unsynced direct (O_DIRECT) rewrites of a synced block as well', async () => {
    dir = tempDir('walnut-crash-');
    const io = new FaultyStorageIo(new SyncFsStorageIo());
    const path = join(dir, 'seg');
    const fd = await io.open(path, { create: true, direct: true });
    await io.syncDirectory(dir);
    const block = alignedBuffer(8192);
    block.fill(1, 0, 4096);
    await io.write(fd, block.subarray(0, 4096), 0);
    await io.datasync(fd);
    block.fill(2);
    await io.write(fd, block, 0);
    await io.crash();
    expectBytes(readFileSync(path), bytes(4096, 1));
  });

  it('keeps a completed dsync write and loses the plain write after it', async () => {
    const { io, path, fd } = await fileWithSyncedPrefix();
    const dsync = await io.completion(io.submitWrite(fd, bytes(3000, 2), 1000, { dsync: true }));
    expect(dsync.result).toBe(3000);
    await io.write(fd, bytes(500, 3), 4000);
    await io.crash();
    expectBytes(readFileSync(path), Buffer.concat([bytes(1000, 1), bytes(3000, 2)]));
  });

  it('keeps a dsync write and the size up to its end past an unsynced write before it', async () => {
    // ext4 commits the file size with the dsync range; the earlier write's bytes may or may
    // not have reached the disk, so only the size and the two durable ranges are checked.
    const { io, path, fd } = await fileWithSyncedPrefix();
    await io.write(fd, bytes(1000, 2), 1000);
    await io.completion(io.submitWrite(fd, bytes(1000, 3), 2000, { dsync: true }));
    await io.crash();
    const image = readFileSync(path);
    expect(image.length).toBe(3000);
    expectBytes(image.subarray(0, 1000), bytes(1000, 1));
    expectBytes(image.subarray(2000), bytes(1000, 3));
  });

  it('counts a writeback as no sync: the bytes it started writing back are lost', async () => {
    const { io, path, fd } = await fileWithSyncedPrefix();
    await io.write(fd, bytes(8192, 2), 1000);
    const writeback = await io.completion(io.submitWriteback(fd, 0, 9192));
    expect(writeback.result).toBe(0);
    expect(io.counts.writeback).toBe(1);
    await io.crash();
    expectBytes(readFileSync(path), bytes(1000, 1));
  });

  it('tears the last unsynced write and removes names never synced', async () => {
    dir = tempDir('walnut-crash-');
    const io = new FaultyStorageIo(new SyncFsStorageIo(), { seed: 11 });
    const path = join(dir, 'seg');
    const fd = await io.open(path, { create: true });
    await io.syncDirectory(dir);
    const scratch = await io.open(join(dir, 'new'), { create: true });
    await io.write(scratch, bytes(10, 1), 0);
    await io.write(fd, bytes(5000, 3), 0);
    await io.crash({ tear: true });
    const image = readFileSync(path);
    expect(image.length % 512).toBe(0);
    expect(image.length).toBeGreaterThan(0);
    expectBytes(image, bytes(image.length, 3));
    expect(readdirSync(dir)).toEqual(['seg']);
  });
});
