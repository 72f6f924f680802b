import { describe, expect, it } from 'vitest';
import { Errno } from '../contract/errors.js';
import { FaultyStorageIo } from '../simulation/faulty.js';
import { expectBytes } from '../testing/conformance.js';
import { MemoryStorageIo } from './memory.js';

const bytes = (length: number, fill: number) => Buffer.alloc(length, fill);

describe('MemoryStorageIo power loss', () => {
  it('keeps synced data and drops unsynced writes', async () => {
    const io = new MemoryStorageIo();
    await io.mkdir('/wal');
    const fd = await io.open('/wal/a', { create: true });
    await io.syncDirectory('/wal');
    await io.write(fd, bytes(100, 1), 0);
    await io.datasync(fd);
    await io.write(fd, bytes(50, 2), 100);
    expect(io.fileBytes('/wal/a')).toHaveLength(150);
    io.simulatePowerLoss();
    expectBytes(io.fileBytes('/wal/a'), bytes(100, 1));
  });

  it('overwrites of synced bytes are undone too', async () => {
    const io = new MemoryStorageIo();
    const fd = await io.open('/a', { create: true });
    await io.syncDirectory('/');
    await io.write(fd, bytes(1000, 1), 0);
    await io.fsync(fd);
    await io.write(fd, bytes(10, 9), 500);
    io.simulatePowerLoss();
    expectBytes(io.fileBytes('/a'), bytes(1000, 1));
  });

  it('loses names that were not made durable by syncDirectory', async () => {
    const io = new MemoryStorageIo();
    await io.mkdir('/wal');
    const fd = await io.open('/wal/kept', { create: true });
    await io.datasync(fd);
    await io.syncDirectory('/wal');
    const lost = await io.open('/wal/lost', { create: true });
    await io.write(lost, bytes(10, 1), 0);
    await io.datasync(lost);
    await io.rename('/wal/kept', '/wal/renamed');
    io.simulatePowerLoss();
    expect((await io.readdir('/wal')).sort()).toEqual(['kept']);
  });

  it('brings back an unlinked name whose removal was never synced', async () => {
    const io = new MemoryStorageIo();
    const fd = await io.open('/seg', { create: true });
    await io.write(fd, bytes(64, 3), 0);
    await io.datasync(fd);
    await io.syncDirectory('/');
    await io.unlink('/seg');
    expect(await io.stat('/seg')).toBeNull();
    io.simulatePowerLoss();
    expectBytes(io.fileBytes('/seg'), bytes(64, 3));
  });

  it('tears the last unsynced write at a 512-byte boundary of the file', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const io = new MemoryStorageIo();
      const fd = await io.open('/f', { create: true });
      await io.syncDirectory('/');
      await io.write(fd, bytes(300, 1), 0);
      await io.datasync(fd);
      await io.write(fd, bytes(4000, 2), 300);
      io.simulatePowerLoss({ tear: true, seed });
      const image = io.fileBytes('/f')!;
      expect(image.length % 512).toBe(0);
      expect(image.length).toBeGreaterThanOrEqual(512);
      expect(image.length).toBeLessThan(4300);
      expectBytes(image.subarray(0, 300), bytes(300, 1));
      expectBytes(image.subarray(300), bytes(image.length - 300, 2));
    }
  });

  it('loses the whole write when a tear has no sector boundary inside it', async () => {
    const io = new MemoryStorageIo();
    const fd = await io.open('/f', { create: true });
    await io.syncDirectory('/');
    await io.write(fd, bytes(100, 2), 0);
    io.simulatePowerLoss({ tear: true, seed: 7 });
    expectBytes(io.fileBytes('/f'), Buffer.alloc(0));
  });

  it('closes every fd and drops every lock', async () => {
    const io = new MemoryStorageIo();
    const fd = await io.open('/f', { create: true });
    await io.lock('/LOCK');
    io.simulatePowerLoss();
    expect((await io.completion(io.submitDatasync(fd))).result).toBe(-Errno.EBADF);
    const lock = await io.lock('/LOCK');
    await lock.release();
  });

  it('reads zeros where a truncated-then-regrown file had data', async () => {
    const io = new MemoryStorageIo();
    const fd = await io.open('/f', { create: true });
    await io.write(fd, bytes(100, 7), 0);
    await io.truncate(fd, 10);
    await io.truncate(fd, 100);
    const back = Buffer.alloc(100);
    await io.read(fd, back, 0);
    expectBytes(back, Buffer.concat([bytes(10, 7), bytes(90, 0)]));
  });

  it('refuses writes through a read-only fd', async () => {
    const io = new MemoryStorageIo();
    const created = await io.open('/f', { create: true });
    await io.close(created);
    const fd = await io.open('/f', { readOnly: true });
    await expect(io.write(fd, bytes(1, 1), 0)).rejects.toMatchObject({
      details: { errno: Errno.EBADF },
    });
  });
});

describe('MemoryStorageIo files', () => {
  it('say they are not on disk, so nothing maps them behind the backend (also through FaultyStorageIo)', () => {
    const memory = new MemoryStorageIo();
    expect(memory.filesOnDisk).toBe(false);
    expect(new FaultyStorageIo(memory).filesOnDisk).toBe(false);
  });
});
