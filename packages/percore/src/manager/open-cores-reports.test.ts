import { WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { PerCoreWalManager } from './manager.js';

// What opening tells the user: what it cut, and why it refused.
const DIR = '/logs';
let io: MemoryStorageIo;

beforeEach(() => {
  io = new MemoryStorageIo();
});

/** Appends `bytes` to the end of `path`, as an interrupted write leaves a part of a frame. */
async function appendRaw(path: string, bytes: Buffer): Promise<void> {
  const fd = await io.open(path);
  await io.write(fd, bytes, await io.size(fd));
  await io.close(fd);
}

describe('what PerCoreWalManager.open reports', () => {
  it('tailsCut says what open cut, which recover() after it no longer sees', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    manager.writer(1).appendPut(Buffer.from('k'), Buffer.alloc(100, 1));
    const end = manager.writer(1).position;
    await manager.close();
    await appendRaw(`${DIR}/wal-1.log`, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 5, 6]));

    const opened = await PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io });
    expect(opened.tailsCut).toEqual([
      {
        coreId: 1,
        path: `${DIR}/wal-1.log`,
        offset: end,
        bytes: 10,
        stop: expect.objectContaining({ kind: 'torn', offset: end }),
      },
    ]);
    expect((await opened.recover()).cores[1]!.stop.kind).toBe('eof');
    await opened.close();

    const again = await PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io });
    expect(again.tailsCut).toEqual([]);
    await again.close();
  });

  it('a missing directory holds no per-core logs: create them with PerCoreWalManager.create', async () => {
    const error = await expectWalError(
      PerCoreWalManager.open({ baseDir: '/nowhere', numCores: 1, io }),
      WalErrorCode.BAD_STATE,
    );
    expect(error.message).toContain('/nowhere does not exist, so it holds no per-core logs');
    expect(error.message).toContain('PerCoreWalManager.create');
  });

  it('a segmentPattern other than the one the logs were created with is named, with that one', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    await manager.close();
    const error = await expectWalError(
      PerCoreWalManager.open({
        baseDir: DIR,
        numCores: 2,
        io,
        segmentPattern: 'core-{core_id}.wal',
      }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain(
      'segmentPattern "core-{core_id}.wal" differs from "wal-{core_id}.log", the one the logs in /logs were created with',
    );
    expect(error.message).not.toContain('restore it');
  });
});
