import { statSync } from 'node:fs';
import { join } from 'node:path';
import { isWalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo, SyncFsStorageIo } from '@walnut/storage-io';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyOf } from '../../test/entries.js';
import { readManifest } from '../files/manifest.js';
import { PerCoreWalReader } from '../read/reader.js';
import { PerCoreWalManager } from './manager.js';

const DIR = '/logs';
let io: MemoryStorageIo;

beforeEach(() => {
  io = new MemoryStorageIo();
});

describe('PerCoreWalManager', () => {
  it('checkpoint: advances the epoch, barriers every core and records the barrier positions', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    manager.writer(0).appendPut(Buffer.from('before-0'), Buffer.from('v'));
    manager.writer(1).appendPut(Buffer.from('before-1'), Buffer.from('v'));
    const manifest = await manager.checkpoint(1n);
    expect(manifest.epoch).toBe(1n);
    expect(manager.epoch).toBe(1n);
    for (const core of manifest.cores) {
      const writer = manager.writer(core.coreId);
      expect(core.position).toBe(writer.position);
      expect(writer.syncedPosition).toBe(writer.position);
      expect(core.sequence).toBe(2n);
    }
    expect(await readManifest(io, DIR)).toEqual(manifest);

    manager.writer(1).appendDelete(Buffer.from('after-1'));
    manager.writer(0).appendDelete(Buffer.from('after-0'));
    await Promise.all([manager.writer(0).sync(), manager.writer(1).sync()]);
    const recovered = await manager.recover();
    expect(recovered.entries.map(keyOf)).toEqual(['after-1', 'after-0']);
    expect(recovered.entries.every((e) => e.epoch === 1n)).toBe(true);
    await manager.close();
  });

  it('rejects a checkpoint id that does not increase', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    await manager.checkpoint(5n);
    await expectWalError(manager.checkpoint(5n), WalErrorCode.BAD_ARGUMENT);
    await manager.close();
  });

  it('writer() rejects an unknown core; writerChecked() answers undefined', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    expect(() => manager.writer(1)).toThrowError(/coreId must be/);
    // A string is shown as one: "0" from a query string is not core 0.
    expect(() => manager.writer('0' as unknown as number)).toThrowError(/got "0"/);
    expect(manager.writerChecked(1)).toBeUndefined();
    await manager.close();
  });

  it('after close, every call that would touch the directory is WAL_CLOSED: it no longer holds the lock', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    await manager.checkpoint(1n);
    await Promise.all([manager.close(), manager.close()]);
    const manifest = await readManifest(io, DIR);
    await expectWalError(manager.reclaim(), WalErrorCode.CLOSED);
    await expectWalError(manager.checkpoint(2n), WalErrorCode.CLOSED);
    await expectWalError(manager.recover(), WalErrorCode.CLOSED);
    expect(await readManifest(io, DIR)).toEqual(manifest);
  });

  it('await using closes the manager when the scope ends, syncing its cores and releasing the directory', async () => {
    {
      await using manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
      manager.writer(0).appendPut(Buffer.from('kept'), Buffer.from('v'));
    }
    const again = await PerCoreWalManager.open({ baseDir: DIR, numCores: 1, io });
    expect((await again.recover()).entries.map(keyOf)).toEqual(['kept']);
    await again.close();
  });

  it('advanceEpoch is visible through epochRef', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    expect(manager.advanceEpoch()).toBe(1n);
    expect(new BigInt64Array(manager.epochRef.buffer)[0]).toBe(1n);
    await manager.close();
  });
});

describe('space reclamation (real file system)', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('percore-reclaim-');
  });
  afterEach(removeTempDirs);

  it('frees the blocks before the manifest positions, keeps the tail and the offsets', async () => {
    const fsIo = new SyncFsStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: dir, numCores: 1, io: fsIo });
    const writer = manager.writer(0);
    for (let i = 0; i < 4000; i++) writer.appendPut(Buffer.from(`k${i}`), Buffer.alloc(256, 1));
    await manager.checkpoint(1n);
    writer.appendPut(Buffer.from('tail'), Buffer.from('kept'));
    await writer.sync();
    const path = join(dir, 'wal-0.log');
    const blocksBefore = statSync(path).blocks;

    const [reclaimed] = await manager.reclaim();
    expect(reclaimed!.freedBytes).toBe(manager.manifest.cores[0]!.position - 64);
    expect(statSync(path).blocks).toBeLessThan(blocksBefore / 4);
    expect(statSync(path).size).toBe(writer.position);
    expect(manager.manifest.cores[0]!.reclaimedBefore).toBe(manager.manifest.cores[0]!.position);
    expect((await manager.recover()).entries.map(keyOf)).toEqual(['tail']);

    // The writer keeps appending to the new file.
    writer.appendDelete(Buffer.from('after-reclaim'));
    await manager.close();
    const reopened = await PerCoreWalManager.open({ baseDir: dir, numCores: 1, io: fsIo });
    expect((await reopened.recover()).entries.map(keyOf)).toEqual(['tail', 'after-reclaim']);
    await reopened.close();

    // Reading below the floor is not a silently empty log.
    const reader = await PerCoreWalReader.open(path, { io: fsIo });
    await expect(reader.read()).rejects.toSatisfy((e: unknown) =>
      isWalError(e, WalErrorCode.CORRUPT),
    );
    await reader.close();
  });
});
